/**
 * DynamoDB state store, single table, one partition per task (`TASK#<id>`):
 *   META            goal, trace id, policy, status projection (+ GSIs for listing)
 *   INPUTS, PLAN    the request's inputs and the validated plan
 *   COUNTER         the event sequence counter
 *   EVT#<eventId>   immutable events (deterministic ids; LSI `bySeq` orders them)
 *   RESULT#<step>   the outcome of a step (what dependents and finalize read)
 *   ATTEMPT#r<run>#<step>#<n>   what an agent attempt produced, before the step completes
 *   TOKEN#r<run>#<step>         the dependency gate's task token (never leaves the backend)
 *   APPROVAL#r<run>#<kind>#<step|->#<attempt>#<round>
 *                               an approval gate: its record, decision and (while PENDING) the
 *                               gate's task token; listed by status through the byStatus index
 *                               (`APPROVALS#<status>`)
 *   ART#<artifactId>            artifact metadata (bytes live in S3)
 * Idempotency keys live in their own partition `IDEM#<key>`; the approval lookup by id (the id
 * is what links carry) in `APPROVAL#<approvalId>`.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ApprovalDecision, ApprovalKind, ApprovalStatus } from '../core/approvals.js';
import { BatonError, ErrorNames, ValidationError } from '../core/errors.js';
import { STATUS_EVENTS, type TaskMeta } from '../core/fold.js';
import type {
  ArtifactRef,
  EventType,
  Json,
  Plan,
  Policy,
  StepStatus,
  TaskEvent,
  TaskStatus,
  TaskSummary,
} from '../core/schemas.js';

export const TABLE_INDEXES = { bySeq: 'bySeq', byStatus: 'byStatus', byCreated: 'byCreated' } as const;

export class StoreError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.StoreError;
  }
}

export interface StoredTask extends TaskMeta {
  status: TaskStatus;
  updatedAt: string;
  policy: Policy;
  run: number;
  requestHash: string;
  idempotencyKey?: string;
}

export interface NewEvent {
  id: string;
  type: EventType;
  taskId: string;
  stepId?: string;
  traceId: string;
  data: Record<string, Json>;
  at?: string;
}

export interface StepResult {
  stepId: string;
  run: number;
  status: Extract<StepStatus, 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'CANCELLED'>;
  attempt?: number;
  agent?: string;
  summary?: string;
  output?: Json;
  artifacts?: ArtifactRef[];
  error?: { name: string; message: string };
  at: string;
}

export interface AttemptRecord {
  stepId: string;
  run: number;
  attempt: number;
  agent: string;
  summary: string;
  output?: Json;
  artifacts: ArtifactRef[];
  at: string;
}

/** What a failed run leaves behind: everything an operator needs to act on it. */
export interface DeadLetterRecord {
  taskId: string;
  run: number;
  goal: string;
  status: 'OPEN' | 'REDRIVEN';
  at: string;
  error: { name: string; message: string };
  failedSteps: { stepId: string; status: string; error?: { name: string; message: string } }[];
  traceId: string;
  links: { task: string; events: string; redrive: string };
  redrivenAt?: string;
}

export interface StoredArtifact extends ArtifactRef {
  s3Key: string;
  attempt: number;
}

/** Which gate an approval belongs to: one per (run, kind, step, attempt); rounds are escalations. */
export interface ApprovalGate {
  run: number;
  kind: ApprovalKind;
  /** Absent for plan gates. */
  stepId?: string;
  /** Review gates: the attempt a retry would run (the failed attempt + 1). */
  attempt?: number;
}

/**
 * An approval as stored. Internal: it may hold the gate's task token. What leaves the backend
 * is `toApprovalRecord(item)` (lambdas/core/approvals.ts), which copies the public fields only.
 */
export interface ApprovalItem {
  id: string;
  taskId: string;
  stepId?: string;
  kind: ApprovalKind;
  status: ApprovalStatus;
  requestedAt: string;
  expiresAt: string;
  decision?: ApprovalDecision;
  run: number;
  /** 1, or 2 for the escalation of a timed-out gate. */
  round: number;
  attempt?: number;
  timeoutSeconds: number;
  onTimeout: 'reject' | 'escalate';
  /** Set on a timed-out round that was escalated to the next. */
  escalated?: boolean;
  /** Review gates: why the step failed. */
  failure?: { name: string; message: string };
  /** Set when the gate closed without a decision (task cancelled or ended). */
  closedReason?: string;
  /** The waiting gate's task token: present while PENDING, removed by the decision. */
  taskToken?: string;
}

/** A state change of a PENDING approval (conditional: it happens once). */
export interface ApprovalTransition {
  status: Exclude<ApprovalStatus, 'PENDING'>;
  decision?: ApprovalDecision;
  escalated?: boolean;
  closedReason?: string;
}

export function approvalGateKey(gate: ApprovalGate): string {
  return `r${gate.run}#${gate.kind}#${gate.stepId ?? '-'}#${gate.attempt ?? 0}`;
}
const approvalSk = (gate: ApprovalGate, round: number) => `APPROVAL#${approvalGateKey(gate)}#${round}`;
const approvalStatusKey = (status: ApprovalStatus) => `APPROVALS#${status}`;

const pk = (taskId: string) => `TASK#${taskId}`;
const seqKey = (seq: number) => `SEQ#${String(seq).padStart(12, '0')}`;

function isConditionalFailure(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err as Error)?.name === 'ConditionalCheckFailedException'
  );
}

export class TaskStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /* ------------------------------------------------------------ tasks */

  /**
   * Claims an idempotency key for a task. Returns the task id that owns the key: the given one
   * when the key is new, the earlier one when the same key was used before.
   */
  async claimIdempotencyKey(key: string, taskId: string, requestHash: string, now: string) {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: `IDEM#${key}`,
            sk: 'IDEM',
            taskId,
            requestHash,
            createdAt: now,
            // 24 h, as most idempotency-key APIs keep them (DynamoDB TTL attribute).
            expiresAt: Math.floor(Date.parse(now) / 1000) + 24 * 3600,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { taskId, requestHash, fresh: true };
    } catch (err) {
      if (!isConditionalFailure(err))
        throw new StoreError('Could not record the idempotency key', { cause: err });
      const existing = await this.ddb.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: `IDEM#${key}`, sk: 'IDEM' },
          ConsistentRead: true,
        }),
      );
      const item = existing.Item as { taskId: string; requestHash: string };
      return { taskId: item.taskId, requestHash: item.requestHash, fresh: false };
    }
  }

  /** Writes the task's items. Safe to repeat with the same values (a retried request). */
  async createTask(task: StoredTask, inputs: Record<string, Json>): Promise<void> {
    await this.putIfAbsent({ pk: pk(task.taskId), sk: 'INPUTS', inputs });
    await this.putIfAbsent({ pk: pk(task.taskId), sk: 'COUNTER', seq: 0 });
    await this.putIfAbsent({
      pk: pk(task.taskId),
      sk: 'META',
      ...task,
      gsi1pk: `STATUS#${task.status}`,
      gsi1sk: `${task.createdAt}#${task.taskId}`,
      gsi2pk: 'TASKS',
      gsi2sk: `${task.createdAt}#${task.taskId}`,
    });
  }

  async getTask(taskId: string): Promise<StoredTask | undefined> {
    const res = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: pk(taskId), sk: 'META' }, ConsistentRead: true }),
    );
    if (!res.Item) return undefined;
    const {
      pk: _p,
      sk: _s,
      gsi1pk: _g1,
      gsi1sk: _g1s,
      gsi2pk: _g2,
      gsi2sk: _g2s,
      statusSeq: _ss,
      pendingApprovals: _pa,
      ...rest
    } = res.Item;
    return rest as StoredTask;
  }

  async getInputs(taskId: string): Promise<Record<string, Json>> {
    const res = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: pk(taskId), sk: 'INPUTS' } }),
    );
    return (res.Item?.inputs as Record<string, Json>) ?? {};
  }

  /** Stores the plan once; a second call keeps the first plan and returns it. */
  async putPlan(taskId: string, plan: Plan): Promise<Plan> {
    const created = await this.putIfAbsent({ pk: pk(taskId), sk: 'PLAN', plan });
    if (created) return plan;
    return (await this.getPlan(taskId)) as Plan;
  }

  async getPlan(taskId: string): Promise<Plan | undefined> {
    const res = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: pk(taskId), sk: 'PLAN' }, ConsistentRead: true }),
    );
    return res.Item?.plan as Plan | undefined;
  }

  async listTasks(opts: { status?: TaskStatus; limit: number; cursor?: string }) {
    const input: QueryCommandInput = opts.status
      ? {
          TableName: this.table,
          IndexName: TABLE_INDEXES.byStatus,
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': `STATUS#${opts.status}` },
        }
      : {
          TableName: this.table,
          IndexName: TABLE_INDEXES.byCreated,
          KeyConditionExpression: 'gsi2pk = :p',
          ExpressionAttributeValues: { ':p': 'TASKS' },
        };
    const res = await this.ddb.send(
      new QueryCommand({
        ...input,
        ScanIndexForward: false,
        Limit: opts.limit,
        ExclusiveStartKey: opts.cursor ? decodeCursor(opts.cursor) : undefined,
      }),
    );
    const tasks: TaskSummary[] = (res.Items ?? []).map((i) => ({
      taskId: i.taskId,
      goal: i.goal,
      status: i.status,
      createdAt: i.createdAt,
      updatedAt: i.updatedAt,
    }));
    return { tasks, next: res.LastEvaluatedKey ? encodeCursor(res.LastEvaluatedKey) : undefined };
  }

  /** Moves the task to a new run (redrive). Returns false if another redrive got there first. */
  async setRun(taskId: string, run: number): Promise<boolean> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pk(taskId), sk: 'META' },
          // A new run starts with no pending approvals (those of the old run died with it).
          UpdateExpression: 'SET #run = :run, pendingApprovals = :zero',
          ConditionExpression: '#run < :run',
          ExpressionAttributeNames: { '#run': 'run' },
          ExpressionAttributeValues: { ':run': run, ':zero': 0 },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new StoreError(`Could not start run ${run} of task ${taskId}`, { cause: err });
    }
  }

  /* ----------------------------------------------------------- events */

  /**
   * Appends an event unless one with the same id exists. Returns the stored event, or
   * undefined for a duplicate. `seq` is strictly increasing per task (gaps are possible).
   */
  async appendEvent(e: NewEvent): Promise<TaskEvent | undefined> {
    const key = { pk: pk(e.taskId), sk: `EVT#${e.id}` };
    // No read first: a duplicate only burns a sequence number and loses the conditional put.
    const counter = await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: pk(e.taskId), sk: 'COUNTER' },
        UpdateExpression: 'ADD seq :one',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const seq = Number(counter.Attributes?.seq);
    const event: TaskEvent = {
      id: e.id,
      seq,
      at: e.at ?? new Date().toISOString(),
      type: e.type,
      taskId: e.taskId,
      ...(e.stepId ? { stepId: e.stepId } : {}),
      traceId: e.traceId,
      data: e.data,
    };
    const created = await this.putIfAbsent({ ...key, lsi1sk: seqKey(seq), ...event });
    if (!created) return undefined;
    const status = STATUS_EVENTS[e.type];
    if (status) await this.projectStatus(e.taskId, status, seq, event.at);
    if (e.type === 'ApprovalRequested') await this.projectPendingApprovals(e.taskId, 1, event.at);
    if (e.type === 'ApprovalDecided') await this.projectPendingApprovals(e.taskId, -1, event.at);
    return event;
  }

  async listEvents(taskId: string, opts: { after?: number; limit: number }) {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
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

  async allEvents(taskId: string): Promise<TaskEvent[]> {
    const out: TaskEvent[] = [];
    let after = 0;
    for (;;) {
      const page = await this.listEvents(taskId, { after, limit: 500 });
      out.push(...page.events);
      if (page.next === undefined) return out;
      after = page.next;
    }
  }

  private async projectStatus(taskId: string, status: TaskStatus, seq: number, at: string) {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
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
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
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
    const moves: [TaskStatus, TaskStatus, string][] = [
      ['RUNNING', 'AWAITING_APPROVAL', 'pendingApprovals > :zero'],
      ['AWAITING_APPROVAL', 'RUNNING', 'pendingApprovals <= :zero'],
    ];
    for (const [from, to, condition] of moves) {
      try {
        await this.ddb.send(
          new UpdateCommand({
            TableName: this.table,
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

  /* ------------------------------------------------------------ steps */

  /**
   * Records a step's outcome for a run. A SUCCEEDED result is final across runs; a failed or
   * skipped one can be replaced by a later run (redrive). Returns false if it was not written.
   */
  async putResult(taskId: string, result: StepResult): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: pk(taskId), sk: `RESULT#${result.stepId}`, ...result },
          ConditionExpression: 'attribute_not_exists(pk) OR (#run < :run AND #status <> :ok)',
          ExpressionAttributeNames: { '#run': 'run', '#status': 'status' },
          ExpressionAttributeValues: { ':run': result.run, ':ok': 'SUCCEEDED' },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new StoreError(`Could not record the result of step ${result.stepId}`, { cause: err });
    }
  }

  async getResults(taskId: string): Promise<Map<string, StepResult>> {
    const items = await this.queryPrefix(taskId, 'RESULT#');
    return new Map(items.map((i) => [i.stepId as string, strip(i) as unknown as StepResult]));
  }

  async putAttempt(taskId: string, rec: AttemptRecord): Promise<void> {
    await this.putIfAbsent({
      pk: pk(taskId),
      sk: `ATTEMPT#r${rec.run}#${rec.stepId}#${rec.attempt}`,
      ...rec,
    });
  }

  async getAttempt(
    taskId: string,
    run: number,
    stepId: string,
    attempt: number,
  ): Promise<AttemptRecord | undefined> {
    const res = await this.ddb.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: pk(taskId), sk: `ATTEMPT#r${run}#${stepId}#${attempt}` },
        ConsistentRead: true,
      }),
    );
    return res.Item ? (strip(res.Item) as unknown as AttemptRecord) : undefined;
  }

  async putToken(taskId: string, run: number, stepId: string, token: string): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: pk(taskId), sk: `TOKEN#r${run}#${stepId}`, token, at: new Date().toISOString() },
      }),
    );
  }

  async getToken(taskId: string, run: number, stepId: string): Promise<string | undefined> {
    const res = await this.ddb.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: pk(taskId), sk: `TOKEN#r${run}#${stepId}` },
        ConsistentRead: true,
      }),
    );
    return res.Item?.token as string | undefined;
  }

  /* -------------------------------------------------------- approvals */

  /**
   * Creates the approval of a gate round, once: a retried or resumed request finds the one that
   * exists (`created: false`) instead of making another. Also writes the lookup by id.
   */
  async createApproval(
    item: ApprovalItem & { taskToken: string },
  ): Promise<{ created: boolean; item: ApprovalItem }> {
    const gate = { run: item.run, kind: item.kind, stepId: item.stepId, attempt: item.attempt };
    const sk = approvalSk(gate, item.round);
    const created = await this.putIfAbsent({
      pk: pk(item.taskId),
      sk,
      ...item,
      gsi1pk: approvalStatusKey(item.status),
      gsi1sk: `${item.requestedAt}#${item.id}`,
    });
    const stored = created ? item : await this.getApprovalAt(item.taskId, sk);
    if (!stored) throw new StoreError(`Approval ${sk} of task ${item.taskId} vanished`);
    await this.putIfAbsent({
      pk: `APPROVAL#${stored.id}`,
      sk: 'APPROVAL',
      approvalId: stored.id,
      taskId: stored.taskId,
      itemSk: sk,
    });
    return { created, item: stored };
  }

  /** The latest round of a gate's approval, if it was ever requested. */
  async latestApproval(taskId: string, gate: ApprovalGate): Promise<ApprovalItem | undefined> {
    const items = await this.queryPrefix(taskId, `APPROVAL#${approvalGateKey(gate)}#`);
    const rounds = items.map(toApprovalItem).sort((a, b) => a.round - b.round);
    return rounds.at(-1);
  }

  /** Every approval of a task (all runs, all rounds). */
  async listTaskApprovals(taskId: string): Promise<ApprovalItem[]> {
    return (await this.queryPrefix(taskId, 'APPROVAL#')).map(toApprovalItem);
  }

  /** An approval by its id (what links and the API carry). */
  async getApproval(approvalId: string): Promise<ApprovalItem | undefined> {
    const res = await this.ddb.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: `APPROVAL#${approvalId}`, sk: 'APPROVAL' },
        ConsistentRead: true,
      }),
    );
    if (!res.Item) return undefined;
    return this.getApprovalAt(String(res.Item.taskId), String(res.Item.itemSk));
  }

  private async getApprovalAt(taskId: string, sk: string): Promise<ApprovalItem | undefined> {
    const res = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: pk(taskId), sk }, ConsistentRead: true }),
    );
    return res.Item ? toApprovalItem(res.Item) : undefined;
  }

  /** Hands a PENDING approval the token of the gate now waiting for it (a resumed execution). */
  async setApprovalToken(item: ApprovalItem, token: string): Promise<boolean> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pk(item.taskId), sk: approvalSk(item, item.round) },
          UpdateExpression: 'SET taskToken = :t',
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':t': token, ':pending': 'PENDING' },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new StoreError(`Could not update approval ${item.id}`, { cause: err });
    }
  }

  /**
   * Moves a PENDING approval on (decided, expired, closed), exactly once: the write is
   * conditional on PENDING. The token is removed in the same write and returned to the caller
   * that won, which resumes the gate with it. `undefined` when the approval was not PENDING.
   */
  async transitionApproval(
    item: ApprovalItem,
    next: ApprovalTransition,
  ): Promise<{ token?: string } | undefined> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {
      ':s': next.status,
      ':g': approvalStatusKey(next.status),
      ':pending': 'PENDING',
    };
    const sets = ['#status = :s', 'gsi1pk = :g'];
    if (next.decision) {
      sets.push('decision = :d');
      values[':d'] = next.decision;
    }
    if (next.escalated !== undefined) {
      sets.push('escalated = :e');
      values[':e'] = next.escalated;
    }
    if (next.closedReason !== undefined) {
      sets.push('closedReason = :c');
      values[':c'] = next.closedReason;
    }
    try {
      const res = await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pk(item.taskId), sk: approvalSk(item, item.round) },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE taskToken`,
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      const token = res.Attributes?.taskToken;
      return typeof token === 'string' ? { token } : {};
    } catch (err) {
      if (isConditionalFailure(err)) return undefined;
      throw new StoreError(`Could not record the decision of approval ${item.id}`, { cause: err });
    }
  }

  /**
   * Closes the gates of a task that stopped waiting (cancelled, or its run ended): their links
   * answer 410 and they leave the PENDING listing. Their tokens are dropped.
   */
  async closePendingApprovals(taskId: string, reason: string): Promise<void> {
    for (const a of await this.listTaskApprovals(taskId)) {
      if (a.status === 'PENDING')
        await this.transitionApproval(a, { status: 'EXPIRED', closedReason: reason });
    }
  }

  /** Approvals by status, newest first. */
  async listApprovals(opts: { status: ApprovalStatus; limit: number }): Promise<ApprovalItem[]> {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: TABLE_INDEXES.byStatus,
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': approvalStatusKey(opts.status) },
        ScanIndexForward: false,
        Limit: opts.limit,
      }),
    );
    return (res.Items ?? []).map(toApprovalItem);
  }

  /* ----------------------------------------------------- dead letters */

  /** Records a failed run's dead letter (once per task and run). */
  async putDeadLetter(rec: DeadLetterRecord): Promise<boolean> {
    return this.putIfAbsent({ pk: 'DEADLETTERS', sk: `${rec.taskId}#r${rec.run}`, ...rec });
  }

  /** Dead letters, newest first; by default only the ones not redriven yet. */
  async listDeadLetters(opts: { includeRedriven?: boolean; limit: number }): Promise<DeadLetterRecord[]> {
    const out: DeadLetterRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': 'DEADLETTERS' },
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(res.Items ?? []).map((i) => strip(i) as unknown as DeadLetterRecord));
      start = res.LastEvaluatedKey;
    } while (start);
    return out
      .filter((d) => opts.includeRedriven || d.status === 'OPEN')
      .sort((a, b) => (a.at < b.at ? 1 : -1))
      .slice(0, opts.limit);
  }

  async markDeadLetterRedriven(taskId: string, run: number, redrivenAt: string): Promise<void> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: 'DEADLETTERS', sk: `${taskId}#r${run}` },
          UpdateExpression: 'SET #status = :r, redrivenAt = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':r': 'REDRIVEN', ':at': redrivenAt },
        }),
      );
    } catch (err) {
      if (!isConditionalFailure(err))
        throw new StoreError('Could not mark the dead letter redriven', { cause: err });
    }
  }

  /* -------------------------------------------------------- artifacts */

  async putArtifact(taskId: string, art: StoredArtifact): Promise<void> {
    await this.putIfAbsent({ pk: pk(taskId), sk: `ART#${art.id}`, ...art });
  }

  async listArtifacts(taskId: string): Promise<StoredArtifact[]> {
    return (await this.queryPrefix(taskId, 'ART#')).map((i) => strip(i) as unknown as StoredArtifact);
  }

  async getArtifact(taskId: string, artifactId: string): Promise<StoredArtifact | undefined> {
    const res = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: pk(taskId), sk: `ART#${artifactId}` } }),
    );
    return res.Item ? (strip(res.Item) as unknown as StoredArtifact) : undefined;
  }

  /* ---------------------------------------------------------- helpers */

  private async putIfAbsent(item: Record<string, unknown>): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new StoreError(`Could not write ${String(item.sk)} of ${String(item.pk)}`, { cause: err });
    }
  }

  private async queryPrefix(taskId: string, prefix: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
          ExpressionAttributeValues: { ':p': pk(taskId), ':s': prefix },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }
}

function strip(item: Record<string, unknown>): Record<string, unknown> {
  const { pk: _p, sk: _s, lsi1sk: _l, ...rest } = item;
  return rest;
}

function toApprovalItem(item: Record<string, unknown>): ApprovalItem {
  const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _gs, ...rest } = item;
  return rest as unknown as ApprovalItem;
}

function toEvent(item: Record<string, unknown>): TaskEvent {
  const { id, seq, at, type, taskId, stepId, traceId, data } = item as unknown as TaskEvent;
  return { id, seq, at, type, taskId, ...(stepId ? { stepId } : {}), traceId, data };
}

function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(cursor: string): Record<string, unknown> {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (v && typeof v === 'object') return v;
  } catch {
    /* fall through */
  }
  throw new InvalidCursorError();
}

/** A ValidationError: the API answers it as a 400 problem, like any invalid query. */
export class InvalidCursorError extends ValidationError {
  constructor() {
    super('cursor is not one this API returned; pass the "next" value of the previous page');
    this.name = ErrorNames.InvalidCursor;
  }
}
