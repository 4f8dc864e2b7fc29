/**
 * The state store in memory: every port of `lambdas/core/ports.ts`, for unit tests. It keeps the
 * DynamoDB adapters' behaviour (first write wins, a SUCCEEDED result is final, seq strictly
 * increasing with a burnt number per duplicate, the status projection, single-use approval
 * transitions, pages that end like DynamoDB's); `test/contract/store.test.ts` runs the same
 * contract suite against both. Records go in and come out as copies, as through DynamoDB
 * (undefined fields are dropped, like the document client's `removeUndefinedValues`).
 */
import { InvalidCursorError } from '../../lambdas/adapters/store.js';
import type { ApprovalStatus } from '../../lambdas/core/approvals.js';
import {
  AWAITING_APPROVAL_RULE,
  isItemEvent,
  recordedEvent,
  succeededAttempt,
  type TaskEvent,
  taskStatusEffect,
} from '../../lambdas/core/events.js';
import { isFinalSuccess } from '../../lambdas/core/fanout.js';
import { eventId } from '../../lambdas/core/ids.js';
import type {
  ApprovalGate,
  ApprovalItem,
  ApprovalTransition,
  AttemptRecord,
  DeadLetterRecord,
  EventPage,
  IdempotencyClaim,
  NewEvent,
  ParkedGate,
  StepContext,
  StepResult,
  StoredArtifact,
  StoredTask,
  StorePorts,
  TaskPage,
} from '../../lambdas/core/ports.js';
import { SUBMITTED_SEQ } from '../../lambdas/core/ports.js';
import type { Json, Plan, TaskStatus } from '../../lambdas/core/schemas.js';

/** A deep copy without undefined fields: what a write and a read through DynamoDB give back. */
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

/** META: the task plus the projection's bookkeeping, which `getTask` does not return. */
interface Meta {
  task: StoredTask;
  statusSeq?: number;
  pendingApprovals: number;
}

/** The DynamoDB adapter's sort key of a gate round (so listings come in the same order). */
const gateKey = (g: ApprovalGate, round: number) =>
  `r${g.run}#${g.kind}#${g.stepId ?? '-'}#${g.attempt ?? 0}#${round}`;
const byKey = <V>(m: Map<string, V>): V[] =>
  [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
const inner = <V>(m: Map<string, Map<string, V>>, k: string): Map<string, V> => {
  let v = m.get(k);
  if (!v) {
    v = new Map();
    m.set(k, v);
  }
  return v;
};

export class MemoryStore implements StorePorts {
  private readonly metas = new Map<string, Meta>();
  private readonly inputs = new Map<string, Record<string, Json>>();
  private readonly plans = new Map<string, Plan>();
  private readonly counters = new Map<string, number>();
  private readonly events = new Map<string, Map<string, TaskEvent>>();
  private readonly results = new Map<string, Map<string, StepResult>>();
  /** Tasks whose TaskCancelled was numbered (the DynamoDB adapter marks its COUNTER item). */
  private readonly cancelled = new Set<string>();
  private readonly artifacts = new Map<string, Map<string, StoredArtifact>>();
  private readonly deadLetters = new Map<string, DeadLetterRecord>();
  private readonly tokens = new Map<string, string>();
  private readonly routedTokens = new Set<string>();
  /** Per task, by gate and round. */
  private readonly approvals = new Map<string, Map<string, ApprovalItem>>();
  private readonly approvalIds = new Map<string, { taskId: string; key: string }>();
  private readonly idempotency = new Map<string, { taskId: string; requestHash: string }>();

  /* ------------------------------------------------------------------------------ tasks */

  async createTask(task: StoredTask, inputs: Record<string, Json>, plan?: Plan): Promise<void> {
    if (plan) await this.putPlan(task.taskId, plan);
    if (!this.inputs.has(task.taskId)) this.inputs.set(task.taskId, copy(inputs));
    if (!this.counters.has(task.taskId)) this.counters.set(task.taskId, SUBMITTED_SEQ);
    if (!this.metas.has(task.taskId)) this.metas.set(task.taskId, { task: copy(task), pendingApprovals: 0 });
  }

  async getTask(taskId: string): Promise<StoredTask | undefined> {
    const meta = this.metas.get(taskId);
    return meta ? copy(meta.task) : undefined;
  }

  async getInputs(taskId: string): Promise<Record<string, Json>> {
    return copy(this.inputs.get(taskId) ?? {});
  }

  async putPlan(taskId: string, plan: Plan): Promise<Plan> {
    const first = this.plans.get(taskId);
    if (first) return copy(first);
    this.plans.set(taskId, copy(plan));
    return plan;
  }

  async getPlan(taskId: string): Promise<Plan | undefined> {
    const plan = this.plans.get(taskId);
    return plan ? copy(plan) : undefined;
  }

  async getTaskAndPlan(taskId: string): Promise<{ task?: StoredTask; plan?: Plan }> {
    const meta = this.metas.get(taskId);
    const plan = this.plans.get(taskId);
    return { ...(meta ? { task: copy(meta.task) } : {}), ...(plan ? { plan: copy(plan) } : {}) };
  }

  async listTasks(opts: { status?: TaskStatus; limit: number; cursor?: string }): Promise<TaskPage> {
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor);
    const sortKey = (t: StoredTask) => `${t.createdAt}#${t.taskId}`;
    const page = [...this.metas.values()]
      .map((m) => m.task)
      .filter((t) => opts.status === undefined || t.status === opts.status)
      .sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : -1))
      .filter((t) => after === undefined || sortKey(t) < after)
      .slice(0, opts.limit);
    const tasks = page.map(({ taskId, goal, status, createdAt, updatedAt }) => ({
      taskId,
      goal,
      status,
      createdAt,
      updatedAt,
    }));
    // Like a DynamoDB Query: a full page has a next key, even when nothing follows it.
    const last = page.at(-1);
    return { tasks, next: page.length === opts.limit && last ? encodeCursor(sortKey(last)) : undefined };
  }

  async setRun(taskId: string, run: number): Promise<boolean> {
    const meta = this.metas.get(taskId);
    if (!meta || !(meta.task.run < run)) return false;
    meta.task.run = run;
    meta.pendingApprovals = 0;
    return true;
  }

  /* ----------------------------------------------------------------------------- events */

  async appendEvent(e: NewEvent, reserved?: number, at?: string): Promise<TaskEvent | undefined> {
    // A duplicate burns a sequence number, as the DynamoDB adapter's counter does.
    if (reserved === undefined && taskStatusEffect(e).status === 'CANCELLED') this.cancelled.add(e.taskId);
    const seq = reserved ?? (await this.reserveSeqs(e.taskId, 1)).first;
    const events = inner(this.events, e.taskId);
    if (events.has(e.id)) return undefined;
    const event = recordedEvent(e, seq, at ?? new Date().toISOString());
    events.set(e.id, copy(event));
    const meta = this.metas.get(e.taskId);
    const effect = taskStatusEffect(event);
    if (meta && effect.status && (meta.statusSeq === undefined || meta.statusSeq < seq)) {
      Object.assign(meta.task, { status: effect.status, updatedAt: event.at });
      meta.statusSeq = seq;
    }
    if (meta && effect.pendingApproval) {
      meta.pendingApprovals += effect.pendingApproval.delta;
      const { while: running, becomes: awaiting } = AWAITING_APPROVAL_RULE;
      if (meta.task.status === running && meta.pendingApprovals > 0)
        Object.assign(meta.task, { status: awaiting, updatedAt: event.at });
      else if (meta.task.status === awaiting && meta.pendingApprovals <= 0)
        Object.assign(meta.task, { status: running, updatedAt: event.at });
    }
    return event;
  }

  async listEvents(taskId: string, opts: { after?: number; limit: number }): Promise<EventPage> {
    const events = [...(this.events.get(taskId)?.values() ?? [])]
      .filter((e) => e.seq > (opts.after ?? 0))
      .sort((a, b) => a.seq - b.seq)
      .slice(0, opts.limit)
      .map(copy);
    const last = events.at(-1);
    return { events, next: events.length === opts.limit && last ? last.seq : undefined };
  }

  async appendEvents(
    events: readonly NewEvent[],
    opts: { firstSeq?: number } = {},
  ): Promise<(TaskEvent | undefined)[]> {
    const first = events[0];
    if (!first) return [];
    if (opts.firstSeq === undefined && events.some((e) => taskStatusEffect(e).status === 'CANCELLED'))
      this.cancelled.add(first.taskId);
    const from = opts.firstSeq ?? (await this.reserveSeqs(first.taskId, events.length)).first;
    const out: (TaskEvent | undefined)[] = [];
    for (const [i, e] of events.entries()) out.push(await this.appendEvent(e, from + i));
    return out;
  }

  async reserveSeqs(taskId: string, count: number): Promise<{ first: number; cancelled: boolean }> {
    const last = (this.counters.get(taskId) ?? 0) + count;
    this.counters.set(taskId, last);
    return { first: last - count + 1, cancelled: this.cancelled.has(taskId) };
  }

  async eventsWithIdPrefix(taskId: string, prefix: string): Promise<TaskEvent[]> {
    return (await this.allEvents(taskId)).filter((e) => e.id.startsWith(prefix));
  }

  async allEvents(taskId: string): Promise<TaskEvent[]> {
    return (await this.listEvents(taskId, { limit: Number.MAX_SAFE_INTEGER })).events.filter(
      (e) => !isItemEvent(e),
    );
  }

  /* --------------------------------------------------------------------------- results */

  async putResult(taskId: string, result: StepResult): Promise<boolean> {
    const results = inner(this.results, taskId);
    const existing = results.get(result.stepId);
    if (existing && !(existing.run < result.run && !isFinalSuccess(existing))) return false;
    results.set(result.stepId, copy(result));
    return true;
  }

  async putSuccess(
    taskId: string,
    { result, event, seq }: { result: StepResult; event: NewEvent; seq: number },
  ): Promise<boolean> {
    if (event.taskId !== taskId || event.type !== 'StepSucceeded' || result.items !== undefined)
      throw new Error("putSuccess takes a plain step's SUCCEEDED result and its StepSucceeded");
    // Together or not at all, as the DynamoDB adapter's one item.
    if (!(await this.putResult(taskId, result))) return false;
    await this.appendEvent(event, seq, result.at);
    return true;
  }

  async getResults(taskId: string, stepIds?: readonly string[]): Promise<Map<string, StepResult>> {
    const all = byKey(this.results.get(taskId) ?? new Map()).filter(
      (r) => !stepIds || stepIds.includes(r.stepId),
    );
    return new Map(all.map((r) => [r.stepId, copy(r)]));
  }

  async getSucceeded(taskId: string, run: number, stepId: string): Promise<AttemptRecord | undefined> {
    const e = this.events.get(taskId)?.get(eventId({ run, type: 'StepSucceeded', stepId }));
    return e ? succeededAttempt(copy(e), run) : undefined;
  }

  async getStepContext(
    taskId: string,
    stepIds: readonly string[],
    step: { run: number; stepId: string; gates?: readonly string[]; start?: { attempt: number } },
  ): Promise<StepContext> {
    const task = await this.getTask(taskId);
    const succeeded = await this.getSucceeded(taskId, step.run, step.stepId);
    const gates = new Map<string, ParkedGate>();
    for (const id of step.gates ?? []) {
      const token = await this.getToken(taskId, step.run, id);
      const routes = this.routedTokens.has(`${taskId}|${step.run}|${id}`);
      if (token !== undefined) gates.set(id, { token, routes });
    }
    return {
      ...(task ? { task } : {}),
      inputs: await this.getInputs(taskId),
      results: await this.getResults(taskId, stepIds),
      ...(succeeded ? { succeeded } : {}),
      gates,
      ...(step.start ? { start: this.startContext(taskId, step.run, step.stepId, step.start.attempt) } : {}),
    };
  }

  private startContext(taskId: string, run: number, stepId: string, attempt: number) {
    const events = this.events.get(taskId);
    const waiting = events?.get(eventId({ run, type: 'StepWaiting', stepId }));
    const earlier =
      attempt > 1 && events?.has(eventId({ run, type: 'StepStarted', stepId, attempt: attempt - 1 }));
    return { ...(waiting ? { waitingSeq: waiting.seq } : {}), earlierAttempt: earlier === true };
  }

  /* -------------------------------------------------------------------------- artifacts */

  async putArtifact(taskId: string, art: StoredArtifact): Promise<void> {
    const artifacts = inner(this.artifacts, taskId);
    if (!artifacts.has(art.id)) artifacts.set(art.id, copy(art));
  }

  async listArtifacts(taskId: string): Promise<StoredArtifact[]> {
    return byKey(this.artifacts.get(taskId) ?? new Map()).map(copy);
  }

  async getArtifact(taskId: string, artifactId: string): Promise<StoredArtifact | undefined> {
    const art = this.artifacts.get(taskId)?.get(artifactId);
    return art ? copy(art) : undefined;
  }

  async getArtifacts(taskId: string, artifactIds: readonly string[]): Promise<Map<string, StoredArtifact>> {
    const found = new Map<string, StoredArtifact>();
    for (const id of artifactIds) {
      const art = this.artifacts.get(taskId)?.get(id);
      if (art) found.set(id, copy(art));
    }
    return found;
  }

  /* ----------------------------------------------------------------------- dead letters */

  async putDeadLetter(rec: DeadLetterRecord): Promise<boolean> {
    const key = `${rec.taskId}#r${rec.run}`;
    if (this.deadLetters.has(key)) return false;
    this.deadLetters.set(key, copy(rec));
    return true;
  }

  async listDeadLetters(opts: { includeRedriven?: boolean; limit: number }): Promise<DeadLetterRecord[]> {
    return byKey(this.deadLetters)
      .filter((d) => opts.includeRedriven || d.status === 'OPEN')
      .sort((a, b) => (a.at < b.at ? 1 : -1))
      .slice(0, opts.limit)
      .map(copy);
  }

  async markDeadLetterRedriven(taskId: string, run: number, redrivenAt: string): Promise<void> {
    const rec = this.deadLetters.get(`${taskId}#r${run}`);
    if (rec) Object.assign(rec, { status: 'REDRIVEN', redrivenAt });
  }

  /* ------------------------------------------------------------ control plane: tokens */

  async putToken(
    taskId: string,
    run: number,
    stepId: string,
    token: string,
    routes?: boolean,
  ): Promise<void> {
    this.tokens.set(`${taskId}|${run}|${stepId}`, token);
    if (routes) this.routedTokens.add(`${taskId}|${run}|${stepId}`);
    else this.routedTokens.delete(`${taskId}|${run}|${stepId}`);
  }

  async getToken(taskId: string, run: number, stepId: string): Promise<string | undefined> {
    return this.tokens.get(`${taskId}|${run}|${stepId}`);
  }

  async getResultsAndToken(
    taskId: string,
    stepIds: readonly string[],
    gate: { run: number; stepId: string },
  ): Promise<{ results: Map<string, StepResult>; token?: string; routes?: boolean }> {
    const token = await this.getToken(taskId, gate.run, gate.stepId);
    const routes = this.routedTokens.has(`${taskId}|${gate.run}|${gate.stepId}`);
    return {
      results: await this.getResults(taskId, stepIds),
      ...(token !== undefined ? { token } : {}),
      ...(token !== undefined && routes ? { routes: true } : {}),
    };
  }

  /* --------------------------------------------------------- control plane: approvals */

  async createApproval(
    item: ApprovalItem & { taskToken: string },
  ): Promise<{ created: boolean; item: ApprovalItem }> {
    const approvals = inner(this.approvals, item.taskId);
    const key = gateKey(item, item.round);
    const existing = approvals.get(key);
    if (!existing) approvals.set(key, copy(item));
    const stored = existing ? copy(existing) : item;
    if (!this.approvalIds.has(stored.id)) this.approvalIds.set(stored.id, { taskId: stored.taskId, key });
    return { created: !existing, item: stored };
  }

  async latestApproval(taskId: string, gate: ApprovalGate): Promise<ApprovalItem | undefined> {
    const rounds = (await this.listTaskApprovals(taskId)).filter(
      (a) => gateKey(a, a.round) === gateKey(gate, a.round),
    );
    return rounds.sort((a, b) => a.round - b.round).at(-1);
  }

  async listTaskApprovals(taskId: string): Promise<ApprovalItem[]> {
    return byKey(this.approvals.get(taskId) ?? new Map()).map(copy);
  }

  async getApproval(approvalId: string): Promise<ApprovalItem | undefined> {
    const at = this.approvalIds.get(approvalId);
    const item = at && this.approvals.get(at.taskId)?.get(at.key);
    return item ? copy(item) : undefined;
  }

  async setApprovalToken(item: ApprovalItem, token: string): Promise<boolean> {
    const current = this.approvals.get(item.taskId)?.get(gateKey(item, item.round));
    if (current?.status !== 'PENDING') return false;
    current.taskToken = token;
    return true;
  }

  async transitionApproval(
    item: ApprovalItem,
    next: ApprovalTransition,
  ): Promise<{ token?: string } | undefined> {
    const current = this.approvals.get(item.taskId)?.get(gateKey(item, item.round));
    if (current?.status !== 'PENDING') return undefined;
    const token = current.taskToken;
    delete current.taskToken;
    current.status = next.status;
    if (next.decision) current.decision = copy(next.decision);
    if (next.escalated !== undefined) current.escalated = next.escalated;
    if (next.closedReason !== undefined) current.closedReason = next.closedReason;
    return token === undefined ? {} : { token };
  }

  async closePendingApprovals(taskId: string, reason: string): Promise<void> {
    for (const a of await this.listTaskApprovals(taskId)) {
      if (a.status === 'PENDING')
        await this.transitionApproval(a, { status: 'EXPIRED', closedReason: reason });
    }
  }

  async listApprovals(opts: { status: ApprovalStatus; limit: number }): Promise<ApprovalItem[]> {
    const sortKey = (a: ApprovalItem) => `${a.requestedAt}#${a.id}`;
    return [...this.approvals.values()]
      .flatMap((m) => [...m.values()])
      .filter((a) => a.status === opts.status)
      .sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : -1))
      .slice(0, opts.limit)
      .map(copy);
  }

  /* ------------------------------------------------------ control plane: idempotency */

  async claimIdempotencyKey(
    key: string,
    taskId: string,
    requestHash: string,
    _now: string,
  ): Promise<IdempotencyClaim> {
    const existing = this.idempotency.get(key);
    if (existing) return { ...existing, fresh: false };
    this.idempotency.set(key, { taskId, requestHash });
    return { taskId, requestHash, fresh: true };
  }
}

function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (v && typeof v === 'object' && 'after' in v && typeof v.after === 'string') return v.after;
  } catch {
    /* fall through */
  }
  throw new InvalidCursorError();
}
