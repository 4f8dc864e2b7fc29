/**
 * Task and step status are folds over the immutable event log. Pure: no I/O.
 */
import { isItemEvent, type TaskEvent, taskStatusEffect, withPendingApprovals } from './events.js';
import type { ErrorInfo, Plan, StepStatus, StepView, TaskResult, TaskStatus, TaskView } from './schemas.js';

export interface TaskMeta {
  taskId: string;
  goal: string;
  createdAt: string;
  traceId: string;
}

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
    steps.set(s.id, {
      id: s.id,
      agent: s.agent,
      dependsOn: s.dependsOn,
      status: 'PENDING',
      attempts: 0,
      input: s.input,
      approval: s.approval,
      ...(s.forEach ? { forEach: { items: s.forEach.items } } : {}),
    });
  }

  for (const e of sorted) {
    // Items of fan-out steps are counted, not folded (the view's progress comes from counters).
    if (isItemEvent(e)) continue;
    if (e.at > updatedAt) updatedAt = e.at;
    const effect = taskStatusEffect(e);
    if (effect.status) status = effect.status;
    if (effect.clearsPendingApprovals) pendingApprovals.clear();
    if (effect.pendingApproval?.delta === 1) pendingApprovals.add(effect.pendingApproval.approvalId);
    if (effect.pendingApproval?.delta === -1) pendingApprovals.delete(effect.pendingApproval.approvalId);
    if (e.type === 'TaskSucceeded' || e.type === 'TaskDegraded' || e.type === 'TaskFailed') {
      result = e.data.result;
      error = e.data.error;
    }
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
        step.attempts = Math.max(step.attempts, e.data.attempt);
        step.startedAt ??= e.at;
        step.error = undefined;
        break;
      case 'StepAttemptFailed':
        step.error = e.data.error;
        break;
      case 'StepSucceeded':
        step.status = 'SUCCEEDED';
        step.endedAt = e.at;
        step.summary = e.data.summary;
        step.output = e.data.output;
        step.error = undefined;
        break;
      case 'StepFailed':
        step.status = 'FAILED';
        step.endedAt = e.at;
        step.error = e.data.error;
        break;
      case 'StepSkipped':
        step.status = 'SKIPPED';
        step.endedAt = e.at;
        step.error = e.data.error;
        break;
    }
  }
  status = withPendingApprovals(status, pendingApprovals.size);
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
