/**
 * Task and step status are folds over the immutable event log. Pure: no I/O.
 */
import type {
  Json,
  Plan,
  StepStatus,
  StepView,
  TaskEvent,
  TaskResult,
  TaskStatus,
  TaskView,
} from './schemas.js';

export interface TaskMeta {
  taskId: string;
  goal: string;
  createdAt: string;
  traceId: string;
}

type ErrorInfo = { name: string; message: string };

function errorOf(data: Record<string, Json>): ErrorInfo | undefined {
  const e = data.error as Record<string, Json> | undefined;
  if (!e || typeof e !== 'object') return undefined;
  return { name: String(e.name ?? 'Error'), message: String(e.message ?? '') };
}

/**
 * Event types that move the task's status, and where they move it. Approval events are not
 * here: a task is AWAITING_APPROVAL while it is RUNNING and at least one of its gates waits for
 * a decision (several can wait at once), which `foldTask` derives from ApprovalRequested and
 * ApprovalDecided, and the store projects with a counter of pending approvals.
 */
export const STATUS_EVENTS: Partial<Record<TaskEvent['type'], TaskStatus>> = {
  TaskSubmitted: 'QUEUED',
  PlanningStarted: 'PLANNING',
  PlanCreated: 'RUNNING',
  TaskSucceeded: 'SUCCEEDED',
  TaskDegraded: 'DEGRADED',
  TaskFailed: 'FAILED',
  TaskCancelled: 'CANCELLED',
  TaskRedriven: 'QUEUED',
};

const TERMINAL_STEP: readonly StepStatus[] = ['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED'];

/** Folds the events (any order; sorted by seq here) into the task's current view. */
export function foldTask(meta: TaskMeta, plan: Plan | undefined, events: readonly TaskEvent[]): TaskView {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  let status: TaskStatus = 'QUEUED';
  let updatedAt = meta.createdAt;
  let result: TaskResult | undefined;
  let error: ErrorInfo | undefined;
  const steps = new Map<string, StepView>();
  /** Approval ids requested and not decided yet, in the current run. */
  const pendingApprovals = new Set<string>();
  for (const s of plan?.steps ?? []) {
    steps.set(s.id, { id: s.id, agent: s.agent, dependsOn: s.dependsOn, status: 'PENDING', attempts: 0 });
  }

  for (const e of sorted) {
    if (e.at > updatedAt) updatedAt = e.at;
    const next = STATUS_EVENTS[e.type];
    if (next) status = next;
    if (e.type === 'TaskSucceeded' || e.type === 'TaskDegraded' || e.type === 'TaskFailed') {
      result = e.data.result as unknown as TaskResult | undefined;
      error = errorOf(e.data);
    }
    if (e.type === 'TaskRedriven') pendingApprovals.clear();
    if (e.type === 'ApprovalRequested' && typeof e.data.approvalId === 'string')
      pendingApprovals.add(e.data.approvalId);
    if (e.type === 'ApprovalDecided' && typeof e.data.approvalId === 'string')
      pendingApprovals.delete(e.data.approvalId);
    if (!e.stepId) continue;
    const step = steps.get(e.stepId);
    if (!step) continue;
    switch (e.type) {
      case 'StepWaiting':
        if (!TERMINAL_STEP.includes(step.status)) step.status = 'WAITING';
        break;
      case 'ApprovalRequested':
        if (!TERMINAL_STEP.includes(step.status)) step.status = 'AWAITING_APPROVAL';
        break;
      case 'ApprovalDecided':
        // Approved or retried: the agent runs next. A rejection is followed by StepFailed; an
        // escalated timeout by the next ApprovalRequested.
        if (!TERMINAL_STEP.includes(step.status) && e.data.escalated !== true) step.status = 'RUNNING';
        break;
      case 'StepStarted':
        step.status = 'RUNNING';
        step.attempts = Math.max(step.attempts, Number(e.data.attempt ?? step.attempts + 1));
        step.startedAt ??= e.at;
        step.error = undefined;
        break;
      case 'StepAttemptFailed':
        step.error = errorOf(e.data);
        break;
      case 'StepSucceeded':
        step.status = 'SUCCEEDED';
        step.endedAt = e.at;
        step.summary = typeof e.data.summary === 'string' ? e.data.summary : undefined;
        step.output = e.data.output;
        step.error = undefined;
        break;
      case 'StepFailed':
        step.status = 'FAILED';
        step.endedAt = e.at;
        step.error = errorOf(e.data);
        break;
      case 'StepSkipped':
        step.status = 'SKIPPED';
        step.endedAt = e.at;
        step.error = errorOf(e.data);
        break;
    }
  }
  if (status === 'RUNNING' && pendingApprovals.size > 0) status = 'AWAITING_APPROVAL';
  if (status === 'CANCELLED') {
    for (const s of steps.values()) if (!TERMINAL_STEP.includes(s.status)) s.status = 'CANCELLED';
  }

  return {
    taskId: meta.taskId,
    goal: meta.goal,
    status,
    createdAt: meta.createdAt,
    updatedAt,
    plan: { steps: [...steps.values()], source: plan?.source, rationale: plan?.rationale },
    ...(result ? { result } : {}),
    ...(error ? { error } : {}),
    traceId: meta.traceId,
  };
}

/** Is this status final for the task? */
export function isTerminal(status: TaskStatus): boolean {
  return status === 'SUCCEEDED' || status === 'DEGRADED' || status === 'FAILED' || status === 'CANCELLED';
}
