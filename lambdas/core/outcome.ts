/** How a task ends, from its plan, its step results and its policy. Pure. */
import { ErrorNames } from './errors.js';
import type { Json, Plan, Policy, StepStatus, TaskResult, TaskStatus } from './schemas.js';

export interface StepOutcome {
  status: StepStatus;
  summary?: string;
  output?: Json;
  artifacts?: { id: string }[];
  error?: { name: string; message: string };
}

export interface TaskOutcome {
  status: Extract<TaskStatus, 'SUCCEEDED' | 'DEGRADED' | 'FAILED'>;
  result: TaskResult;
  /** Steps whose output is missing. */
  missing: string[];
  error?: { name: string; message: string };
}

/**
 * SUCCEEDED when every step succeeded. Steps marked `optional` may fail: the task is then
 * DEGRADED. A required step that did not succeed fails the task, unless `policy.allowDegraded`.
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
    };
    if (status !== 'SUCCEEDED') {
      missing.push(step.id);
      if (!step.optional) requiredMissing.push(step.id);
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
