/**
 * `GET /tasks/{id}/events/stream`: the audit trail as server-sent events (text/event-stream).
 *
 * API Gateway HTTP APIs buffer a Lambda's whole response (Lambda response streaming works through
 * function URLs and REST APIs only), so this endpoint cannot hold a connection open and push. It is
 * long-poll SSE instead: it answers the events after the client's cursor (`Last-Event-ID`, which
 * EventSource sends on reconnect, else `?after=`), waiting up to `wait` seconds for the first new
 * one, and closes with a `retry:` hint; the client reconnects with the last id it saw. When the
 * task has ended and nothing is left after the cursor, the answer is one `end` event.
 */
import type * as z from 'zod';
import { NotFoundError, ValidationError } from '../core/errors.js';
import type { TaskEvent } from '../core/events.js';
import { isTerminal } from '../core/fold.js';
import type { StreamEventsQuery, TaskStatus } from '../core/schemas.js';
import { settledEvents } from '../core/trail.js';
import type { ApiDeps } from './tasks.js';

/** How long a client waits before reconnecting (the `retry:` field), in milliseconds. */
export const STREAM_RETRY_MS = 1000;
/** How often the endpoint looks for new events while it waits. */
export const STREAM_POLL_MS = 500;
/** Events in one answer at most; the client reconnects for the rest at once. */
export const STREAM_BATCH = 500;

export interface StreamBatch {
  events: TaskEvent[];
  /** Set when the task has ended and no event is left after the cursor. */
  ended?: { status: TaskStatus };
  /** More events were left than one answer holds: reconnect without waiting. */
  more: boolean;
}

/**
 * One answer of the stream, framed as text/event-stream: the `retry:` hint first, then each event
 * with its `seq` as id and its type as event name (data: the event as JSON, on one line), then
 * `end` when the task ended. A client that reconnects with `Last-Event-ID` gets what follows.
 */
export function sseFrames(batch: StreamBatch, retryMs = STREAM_RETRY_MS): string {
  const out = [`retry: ${batch.more ? 0 : retryMs}\n\n`];
  for (const e of batch.events) out.push(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  if (batch.ended) out.push(`event: end\ndata: ${JSON.stringify(batch.ended)}\n\n`);
  return out.join('');
}

/**
 * The stream's cursor: `Last-Event-ID` (what EventSource sends when it reconnects) wins over
 * `?after=`; either must be a sequence number (a non-negative integer).
 */
export function streamCursor(lastEventId: string | undefined, after: number | undefined): number | undefined {
  if (lastEventId === undefined || lastEventId.trim() === '') return after;
  if (!/^\d{1,15}$/.test(lastEventId.trim())) {
    throw new ValidationError('Last-Event-ID must be the seq of an event (a non-negative integer).', [
      { path: 'header.last-event-id', message: 'is not a non-negative integer' },
    ]);
  }
  return Number(lastEventId.trim());
}

/**
 * The events after `after`, waiting up to `waitSeconds` for the first one while the task runs.
 * The task is read before the events: a task seen ended has its last event stored already, so
 * `ended` is never answered ahead of an event the client has not had. While the task runs,
 * events behind a number that may still be written are not answered yet (settledEvents).
 */
export async function streamTaskEvents(
  deps: ApiDeps & { sleep?: (ms: number) => Promise<void> },
  taskId: string,
  q: { after?: number; wait: z.infer<typeof StreamEventsQuery>['wait'] },
): Promise<StreamBatch> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = () => (deps.now ?? (() => new Date()))().getTime();
  const deadline = now() + q.wait * 1000;
  for (;;) {
    const task = await deps.store.getTask(taskId);
    if (!task) throw new NotFoundError(`No task ${taskId}.`);
    const page = await deps.store.listEvents(taskId, { after: q.after, limit: STREAM_BATCH });
    // While the task runs, never past a number that may still be written (lambdas/core/trail.ts):
    // the wait goes on for it.
    const ended = isTerminal(task.status);
    const settled = settledEvents(page.events, q.after, { now: new Date(now()), ended });
    if (settled.events.length > 0)
      return { events: settled.events, more: !settled.heldBack && page.next !== undefined };
    if (ended) return { events: [], ended: { status: task.status }, more: false };
    if (now() >= deadline) return { events: [], more: false };
    await sleep(STREAM_POLL_MS);
  }
}
