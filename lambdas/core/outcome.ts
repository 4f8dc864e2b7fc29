/** How a task ends, from its plan, its step results and its policy. Pure. */
import { ErrorNames } from './errors.js';
import { type ItemCounts, itemRef } from './fanout.js';
import {
  type Json,
  LIMITS,
  type Plan,
  type Policy,
  type StepStatus,
  type TaskResult,
  type TaskStatus,
} from './schemas.js';

export interface StepOutcome {
  status: StepStatus;
  summary?: string;
  output?: Json;
  artifacts?: { id: string }[];
  error?: { name: string; message: string };
  /** A fan-out step's item counts. */
  items?: ItemCounts;
}

export interface TaskOutcome {
  status: Extract<TaskStatus, 'SUCCEEDED' | 'DEGRADED' | 'FAILED'>;
  result: TaskResult;
  /** Steps whose output is missing, and failed items of fan-out steps that succeeded within their tolerance (`<step>[<index>]`). */
  missing: string[];
  error?: { name: string; message: string };
}

/**
 * SUCCEEDED when every step succeeded. Steps marked `optional` may fail: the task is then
 * DEGRADED. A required step that did not succeed fails the task, unless `policy.allowDegraded`.
 * A fan-out step that succeeded with failed items (within its tolerance) makes the task
 * DEGRADED, its failed items named in `missing` (the first LIMITS.maxMissingItems of all steps).
 */
export function decideOutcome(
  plan: Plan,
  results: ReadonlyMap<string, StepOutcome>,
  policy: Policy,
): TaskOutcome {
  const steps: TaskResult['steps'] = {};
  const missing: string[] = [];
  const requiredMissing: string[] = [];
  for (const step of plan.steps) {
    const r = results.get(step.id);
    const status: StepStatus = r?.status ?? 'PENDING';
    steps[step.id] = {
      status,
      ...(r?.summary !== undefined ? { summary: r.summary } : {}),
      ...(r?.output !== undefined ? { output: r.output } : {}),
      ...(r?.artifacts ? { artifacts: r.artifacts.map((a) => a.id) } : {}),
      ...(r?.error ? { error: r.error } : {}),
      ...(r?.items
        ? { items: { total: r.items.total, succeeded: r.items.succeeded, failed: r.items.failed } }
        : {}),
    };
    if (status !== 'SUCCEEDED') {
      missing.push(step.id);
      if (!step.optional) requiredMissing.push(step.id);
    } else if (r?.items && r.items.failed > 0) {
      for (const index of r.items.failedIndexes ?? []) {
        if (missing.length >= LIMITS.maxMissingItems) break;
        missing.push(itemRef(step.id, index));
      }
      // Counted even when no index fits: the task is DEGRADED either way.
      if ((r.items.failedIndexes ?? []).length === 0) missing.push(step.id);
    }
  }
  const result: TaskResult = { steps, ...(missing.length ? { missing } : {}) };
  if (missing.length === 0) return { status: 'SUCCEEDED', result, missing };
  if (requiredMissing.length === 0 || policy.allowDegraded) return { status: 'DEGRADED', result, missing };
  const first = requiredMissing[0] as string;
  const cause = results.get(first)?.error;
  return {
    status: 'FAILED',
    result,
    missing,
    error: {
      name: ErrorNames.TaskFailed,
      message: `required step${requiredMissing.length > 1 ? 's' : ''} ${requiredMissing.join(', ')} did not succeed${
        cause ? ` (${first}: ${cause.name}: ${cause.message})` : ''
      }`,
    },
  };
}
