/**
 * The intake sweeper (a scheduled rule runs it every minute): a task the API recorded but whose
 * intake message never went out (the API crashed or SQS failed between the two writes) would stay
 * QUEUED forever. The sweeper finds every task QUEUED for longer than SWEEP_AFTER_SECONDS and
 * sends its start again; the intake worker starts executions by a deterministic name, so a task
 * whose message was only slow starts once. The task's own items are written META last
 * (lambdas/api/tasks.ts), so a QUEUED task always has its inputs and plan; a missing TaskSubmitted
 * event (the crash came right after META) is recorded from the META.
 */
import type { IntakeQueue } from '../adapters/queue.js';
import { Events } from '../core/events.js';
import type { EventPort, TaskPort } from '../core/ports.js';

/** How long a task may stay QUEUED before its start is sent again. */
export const SWEEP_AFTER_SECONDS = 300;
/** Tasks looked at per sweep (newest first, so old ones are reached by paging past new ones). */
export const SWEEP_SCAN_LIMIT = 1000;

export interface SweepDeps {
  store: TaskPort & EventPort;
  queue: Pick<IntakeQueue, 'send'>;
  log?: (line: Record<string, unknown>) => void;
}

export interface SweepResult {
  /** QUEUED tasks looked at. */
  scanned: number;
  /** Tasks whose start was sent again. */
  requeued: string[];
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
      deps.log?.({ level: 'warn', message: 'queued task sent again', taskId: task.taskId, run: task.run });
    }
  } while (cursor && scanned < scanLimit);
  return { scanned, requeued };
}
