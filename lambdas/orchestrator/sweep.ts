/**
 * The intake sweeper (a scheduled rule runs it every minute): a task the API recorded but whose
 * intake message never went out (the API crashed or SQS failed between the two writes) would stay
 * QUEUED forever. The sweeper finds every task QUEUED for longer than SWEEP_AFTER_SECONDS and
 * sends its start again; the intake worker starts executions by a deterministic name, so a task
 * whose message was only slow starts once. The task's own items are written META last
 * (lambdas/api/tasks.ts), so a QUEUED task always has its inputs and plan; a missing TaskSubmitted
 * event (the crash came right after META) is recorded from the META.
 *
 * The same sweep counts the PENDING approvals that expire within APPROVAL_NEAR_EXPIRY_SECONDS
 * and publishes the count as the ApprovalsNearExpiry metric (0 included, so its alarm always has
 * data): approvers who have not answered are about to see their gate time out.
 */
import type { IntakeQueue } from '../adapters/queue.js';
import { Events } from '../core/events.js';
import type { ApprovalPort, EventPort, TaskPort } from '../core/ports.js';
import type { MetricPoint } from '../core/telemetry.js';

/** How long a task may stay QUEUED before its start is sent again. */
export const SWEEP_AFTER_SECONDS = 300;
/** Tasks looked at per sweep (newest first, so old ones are reached by paging past new ones). */
export const SWEEP_SCAN_LIMIT = 1000;
/** A PENDING approval expiring within this long counts in ApprovalsNearExpiry. */
export const APPROVAL_NEAR_EXPIRY_SECONDS = 3600;
/** PENDING approvals looked at per sweep (newest first). */
export const APPROVAL_SCAN_LIMIT = 1000;

export interface SweepDeps {
  store: TaskPort & EventPort & Partial<Pick<ApprovalPort, 'listApprovals'>>;
  queue: Pick<IntakeQueue, 'send'>;
  log?: (line: Record<string, unknown>) => void;
  /** Publishes ApprovalsNearExpiry (none: approvals are not looked at). */
  metrics?: (points: MetricPoint[]) => void;
}

export interface SweepResult {
  /** QUEUED tasks looked at. */
  scanned: number;
  /** Tasks whose start was sent again. */
  requeued: string[];
  /** PENDING approvals expiring within APPROVAL_NEAR_EXPIRY_SECONDS (when metrics are published). */
  approvalsNearExpiry?: number;
}

export async function sweepQueuedTasks(
  deps: SweepDeps,
  now: Date = new Date(),
  opts: { afterSeconds?: number; scanLimit?: number } = {},
): Promise<SweepResult> {
  const cutoff = now.getTime() - (opts.afterSeconds ?? SWEEP_AFTER_SECONDS) * 1000;
  const scanLimit = opts.scanLimit ?? SWEEP_SCAN_LIMIT;
  const requeued: string[] = [];
  let scanned = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.store.listTasks({
      status: 'QUEUED',
      limit: Math.min(100, scanLimit - scanned),
      ...(cursor ? { cursor } : {}),
    });
    cursor = page.next;
    for (const summary of page.tasks) {
      scanned += 1;
      if (Date.parse(summary.updatedAt) > cutoff) continue;
      const task = await deps.store.getTask(summary.taskId);
      if (task?.status !== 'QUEUED') continue;
      const scope = { taskId: task.taskId, traceId: task.traceId, run: task.run };
      if (task.run === 1) {
        // Recorded when the API got that far; the store drops the copy (same id) otherwise.
        const explicitPlan = (await deps.store.getPlan(task.taskId)) !== undefined;
        await deps.store.appendEvent(
          Events.taskSubmitted(scope, {
            goal: task.goal,
            explicitPlan,
            ...(task.policy && Object.keys(task.policy).length ? { policy: task.policy } : {}),
            ...(task.idempotencyKey ? { idempotencyKey: task.idempotencyKey } : {}),
          }),
        );
      }
      await deps.queue.send({ taskId: task.taskId, run: task.run, traceId: task.traceId });
      requeued.push(task.taskId);
      deps.log?.({ level: 'warn', message: 'queued task sent again', ...scope });
    }
  } while (cursor && scanned < scanLimit);
  if (!deps.metrics || !deps.store.listApprovals) return { scanned, requeued };
  const pending = await deps.store.listApprovals({ status: 'PENDING', limit: APPROVAL_SCAN_LIMIT });
  const soon = now.getTime() + APPROVAL_NEAR_EXPIRY_SECONDS * 1000;
  const approvalsNearExpiry = pending.filter((a) => Date.parse(a.expiresAt) <= soon).length;
  deps.metrics([{ name: 'ApprovalsNearExpiry', unit: 'Count', value: approvalsNearExpiry, dimensions: {} }]);
  return { scanned, requeued, approvalsNearExpiry };
}
