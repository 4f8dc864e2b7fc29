/**
 * Events in the task partition `TASK#<id>`: `EVT#<eventId>` items (the envelope as attributes, `data`
 * as JSON text in `dataJson`: table.ts jsonAttr), immutable (conditional put on
 * a deterministic id), ordered by the LSI `bySeq` on `lsi1sk = SEQ#<seq, 12 digits>`. Item events
 * (one item of a fan-out step, `item` on the envelope) are `IEVT#<eventId>`: the trail pages them
 * (`listEvents`, by seq), `allEvents` (what the task view folds) reads `EVT#` only, so a task's
 * view costs the same with 10 items or 10,000. The
 * sequence is the task's COUNTER item. Appending an event also projects the task's status onto
 * META (tasks.ts): the status its type moves to (`taskStatusEffect`, lambdas/core/events.ts), and AWAITING_APPROVAL while
 * approvals are pending (a counter on META).
 */
import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  AWAITING_APPROVAL_RULE,
  isItemEvent,
  type NewEvent,
  recordedEvent,
  TaskEvent,
  taskStatusEffect,
} from '../../core/events.js';
import type { EventPage, EventPort } from '../../core/ports.js';
import type { TaskStatus } from '../../core/schemas.js';
import {
  DynamoTable,
  type Item,
  isConditionalFailure,
  jsonAttr,
  taskPk as pk,
  readJsonAttrs,
  StoreError,
  TABLE_INDEXES,
} from './table.js';

const seqKey = (seq: number) => `SEQ#${String(seq).padStart(12, '0')}`;

/**
 * A StepSucceeded folded into its step's result item (results.ts putSuccess): one write for the
 * two. The event is JSON text in `succeededJson` without its data's output (the result's
 * `outputJson` holds it), and its number is the item's `lsi1sk`, so the trail's index (`bySeq`)
 * lists it with the other events. A plain step's SUCCEEDED result is never replaced (results.ts),
 * so the event stays as immutable as the others.
 */
export function foldedSucceeded(event: TaskEvent): Item {
  if (event.type !== 'StepSucceeded') throw new StoreError('Only a StepSucceeded folds into a result');
  const { output: _output, ...data } = event.data;
  return { lsi1sk: seqKey(event.seq), ...jsonAttr('succeeded', { ...event, data }) };
}

/** Whether an item is a result carrying its StepSucceeded (foldedSucceeded). */
export const isFolded = (item: Item): boolean => typeof item.succeededJson === 'string';

/** The StepSucceeded a result item carries (foldedSucceeded), its output back in its data. */
function unfold(item: Item): Item {
  const { succeeded, output } = readJsonAttrs(item, ['succeeded', 'output']) as {
    succeeded: Item;
    output?: unknown;
  };
  return { ...succeeded, data: { ...succeeded.data, ...(output !== undefined ? { output } : {}) } };
}

/** Whether an event id with this prefix can be a StepSucceeded's (`r<run>.StepSucceeded.…`, ids.ts). */
function mayNameSuccess(prefix: string): boolean {
  const typed = /^r\d+\.(.*)$/s.exec(prefix);
  if (!typed) return /^r?\d*$/.test(prefix);
  const rest = typed[1] ?? '';
  return rest.startsWith('StepSucceeded.') || 'StepSucceeded.'.startsWith(rest);
}

/** The key of an event item (store.ts reads one beside other items: a StepSucceeded, say). */
export const eventKey = (taskId: string, e: { id: string; item?: number }): Item => ({
  pk: pk(taskId),
  sk: `${isItemEvent(e) ? 'IEVT' : 'EVT'}#${e.id}`,
});

/** Appending it cancels the task (its reservation marks the sequence: reserveSeqs' `cancelled`). */
const cancels = (e: NewEvent) => taskStatusEffect(e).status === 'CANCELLED';

export class DynamoEvents implements EventPort {
  private readonly t: DynamoTable;
  constructor(ddb: DynamoDBDocumentClient, table: string) {
    this.t = new DynamoTable(ddb, table);
  }

  async appendEvent(e: NewEvent): Promise<TaskEvent | undefined> {
    return (await this.appendEvents([e]))[0];
  }

  async appendEvents(
    events: readonly NewEvent[],
    opts: { firstSeq?: number } = {},
  ): Promise<(TaskEvent | undefined)[]> {
    const first = events[0];
    if (!first) return [];
    if (events.some((e) => e.taskId !== first.taskId))
      throw new StoreError('appendEvents takes the events of one task');
    // One sequence reservation for all of them (unless made before). No read first: a duplicate
    // only burns its number and loses the conditional put. A TaskCancelled marks the sequence
    // in its reservation (what a step runner's reservation reads back: reserveSeqs).
    const from =
      opts.firstSeq ?? (await this.reserve(first.taskId, events.length, events.some(cancels))).first;
    const at = new Date().toISOString();
    return Promise.all(events.map((e, i) => this.put(e, from + i, at)));
  }

  reserveSeqs(taskId: string, count: number): Promise<{ first: number; cancelled: boolean }> {
    return this.reserve(taskId, count, false);
  }

  private async reserve(taskId: string, count: number, cancel: boolean) {
    const counter = await this.t.ddb.send(
      new UpdateCommand({
        TableName: this.t.name,
        Key: { pk: pk(taskId), sk: 'COUNTER' },
        UpdateExpression: cancel ? 'ADD seq :n SET cancelled = :yes' : 'ADD seq :n',
        ExpressionAttributeValues: { ':n': count, ...(cancel ? { ':yes': true } : {}) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return {
      first: Number(counter.Attributes?.seq) - count + 1,
      cancelled: counter.Attributes?.cancelled === true,
    };
  }

  private async put(e: NewEvent, seq: number, now: string): Promise<TaskEvent | undefined> {
    const key = eventKey(e.taskId, e);
    const event = recordedEvent(e, seq, now);
    const { data, ...envelope } = event;
    const created = await this.t.putIfAbsent({
      ...key,
      lsi1sk: seqKey(seq),
      ...envelope,
      ...jsonAttr('data', data),
    });
    const effect = taskStatusEffect(event);
    if (!created) {
      // The same fact written again (a retried or resumed function): the first write may have
      // stopped between the put and the status projection. Project again from the stored copy;
      // the projection is conditional on its seq, so this changes nothing when it was done.
      if (effect.status) {
        const stored = await this.t.ddb.send(
          new GetCommand({
            TableName: this.t.name,
            Key: key,
            ProjectionExpression: 'seq, #at',
            ExpressionAttributeNames: { '#at': 'at' },
            ConsistentRead: true,
          }),
        );
        const s = stored.Item;
        if (s) await this.projectStatus(e.taskId, effect.status, Number(s.seq), String(s.at));
      }
      return undefined;
    }
    if (effect.status) await this.projectStatus(e.taskId, effect.status, seq, event.at);
    if (effect.pendingApproval)
      await this.projectPendingApprovals(e.taskId, effect.pendingApproval.delta, event.at);
    return event;
  }

  async listEvents(taskId: string, opts: { after?: number; limit: number }): Promise<EventPage> {
    const res = await this.t.ddb.send(
      new QueryCommand({
        TableName: this.t.name,
        IndexName: TABLE_INDEXES.bySeq,
        KeyConditionExpression: 'pk = :p AND lsi1sk > :after',
        ExpressionAttributeValues: { ':p': pk(taskId), ':after': seqKey(opts.after ?? 0) },
        Limit: opts.limit,
        ConsistentRead: true,
      }),
    );
    const events = (res.Items ?? []).map(toEvent);
    const last = events.at(-1);
    return { events, next: res.LastEvaluatedKey && last ? last.seq : undefined };
  }

  async eventsWithIdPrefix(taskId: string, prefix: string): Promise<TaskEvent[]> {
    const [items, folded] = await Promise.all([
      this.t.queryPrefix(pk(taskId), `EVT#${prefix}`),
      mayNameSuccess(prefix) ? this.foldedEvents(taskId) : [],
    ]);
    return [...items.map(toEvent), ...folded.filter((e) => e.id.startsWith(prefix))].sort(
      (a, b) => a.seq - b.seq,
    );
  }

  /** The task's own events (not item events), in seq order: the `EVT#` items and the StepSucceeded folded into results. */
  async allEvents(taskId: string): Promise<TaskEvent[]> {
    const [items, folded] = await Promise.all([
      this.t.queryPrefix(pk(taskId), 'EVT#'),
      this.foldedEvents(taskId),
    ]);
    return [...items.map(toEvent), ...folded].sort((a, b) => a.seq - b.seq);
  }

  /** The StepSucceeded events folded into the task's result items (foldedSucceeded). */
  private async foldedEvents(taskId: string): Promise<TaskEvent[]> {
    return (await this.t.queryPrefix(pk(taskId), 'RESULT#')).filter(isFolded).map(toEvent);
  }

  private async projectStatus(taskId: string, status: TaskStatus, seq: number, at: string) {
    try {
      await this.t.ddb.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: { pk: pk(taskId), sk: 'META' },
          UpdateExpression: 'SET #status = :s, gsi1pk = :g, updatedAt = :at, statusSeq = :seq',
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(statusSeq) OR statusSeq < :seq)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':s': status, ':g': `STATUS#${status}`, ':at': at, ':seq': seq },
        }),
      );
    } catch (err) {
      // A later event already projected a newer status: nothing to do.
      if (!isConditionalFailure(err))
        throw new StoreError('Could not update the task status', { cause: err });
    }
  }

  /**
   * Keeps the projected status in step with the gates: a RUNNING task with pending approvals is
   * AWAITING_APPROVAL, and back. The counter changes atomically; each status update is
   * conditional on the counter at the time it is written, so whichever update runs last after
   * the last change of the counter writes the right status (concurrent decisions included).
   * Terminal and queued statuses are never touched.
   */
  private async projectPendingApprovals(taskId: string, delta: number, at: string): Promise<void> {
    const key = { pk: pk(taskId), sk: 'META' };
    try {
      await this.t.ddb.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: key,
          UpdateExpression: 'ADD pendingApprovals :d',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':d': delta },
        }),
      );
    } catch (err) {
      if (isConditionalFailure(err)) return;
      throw new StoreError('Could not count the pending approvals', { cause: err });
    }
    const { while: running, becomes: awaiting } = AWAITING_APPROVAL_RULE;
    const moves: [TaskStatus, TaskStatus, string][] = [
      [running, awaiting, 'pendingApprovals > :zero'],
      [awaiting, running, 'pendingApprovals <= :zero'],
    ];
    for (const [from, to, condition] of moves) {
      try {
        await this.t.ddb.send(
          new UpdateCommand({
            TableName: this.t.name,
            Key: key,
            UpdateExpression: 'SET #status = :to, gsi1pk = :g, updatedAt = :at',
            ConditionExpression: `#status = :from AND ${condition}`,
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':from': from,
              ':to': to,
              ':g': `STATUS#${to}`,
              ':at': at,
              ':zero': 0,
            },
          }),
        );
      } catch (err) {
        if (!isConditionalFailure(err))
          throw new StoreError('Could not update the task status', { cause: err });
      }
    }
  }
}

/**
 * A stored event item, checked against its type's schema (the table's keys are dropped); a result
 * item carrying its StepSucceeded (foldedSucceeded) gives that event.
 */
export function toEvent(item: Item): TaskEvent {
  const parsed = TaskEvent.safeParse(isFolded(item) ? unfold(item) : readJsonAttrs(item, ['data']));
  if (!parsed.success) {
    throw new StoreError(`Event ${String(item.sk)} of ${String(item.pk)} does not match its schema`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}
