/**
 * Events: the immutable facts of a task's audit trail, one zod schema per event type, combined
 * into the discriminated union `TaskEvent` (on `type`). Types are inferred from the schemas;
 * narrowing on `e.type` gives the event's typed `data`. Pure: no I/O, no AWS SDK.
 *
 * Every event is built by its constructor in `Events` (one per type). The constructor fills the
 * envelope (id, type, task id, step id, trace id) in one place; the store adds `seq` and `at`
 * (`recordedEvent`). Ids are deterministic, `r<run>.<Type>.<step|->.<attempt|->[.<extra>]`
 * (see `eventId`): writing the same fact twice yields the same id and the store's conditional
 * put drops the copy, so a retried Lambda writes no duplicate.
 *
 * `taskStatusEffect` is the one rule of how an event moves the task's status and its count of
 * pending approvals; the fold (fold.ts) and the store's status projection both use it.
 */
import * as z from 'zod';
import { ApprovalKind, DecisionValue, DecisionVia } from './approvals.js';
// Every constructor fills the envelope through the one function the call events use too.
import {
  buildEvent as build,
  type IdParts,
  ModelCalledData,
  modelCalled,
  ToolCalledData,
  toolCalled,
} from './call-events.js';
import type { AttemptRecord } from './ports.js';
import {
  AgentName,
  ArtifactRef,
  ErrorInfo,
  type EventType,
  JsonValue,
  MissingRef,
  Policy,
  StepId,
  TaskResult,
  TaskStatus,
} from './schemas.js';

export { type CallScope, type CallSite, callEventIdPrefix } from './call-events.js';

/* ------------------------------------------------------------------ data per event type */

const Run = z.number().int();
const Attempt = z.number().int();

/** What the outcome events of a run (TaskSucceeded, TaskDegraded, TaskFailed) record. */
const TaskOutcomeData = z.object({
  result: TaskResult.optional(),
  missing: z.array(MissingRef).optional(),
  error: ErrorInfo.optional(),
});

/** The audit fields of an approval decision (who, what, when, how, comment, a review's output). */
export const DecisionEventData = z.object({
  decision: DecisionValue,
  approver: z.string(),
  via: DecisionVia,
  at: z.string(),
  comment: z.string().optional(),
  summary: z.string().optional(),
  output: JsonValue.optional(),
});
export type DecisionEventData = z.infer<typeof DecisionEventData>;

/** The `data` schema of each event type. */
export const EVENT_DATA = {
  TaskSubmitted: z.object({
    goal: z.string(),
    explicitPlan: z.boolean(),
    policy: Policy.optional(),
    idempotencyKey: z.string().optional(),
  }),
  ExecutionStarted: z.object({
    run: Run,
    executionName: z.string(),
    executionArn: z.string().optional(),
  }),
  PlanningStarted: z.object({}),
  PlanCreated: z.object({
    source: z.string(),
    rationale: z.string().optional(),
    steps: z.array(z.object({ id: StepId, agent: AgentName, dependsOn: z.array(StepId) })),
  }),
  StepWaiting: z.object({
    /** Dependencies not succeeded yet when the step parked. */
    waitingFor: z.array(StepId),
  }),
  /** Reserved: nothing records it today (a step's gate releases it without an event). */
  StepReady: z.object({}),
  StepStarted: z.object({
    attempt: Attempt,
    agent: AgentName,
    run: Run,
    /**
     * Set when this attempt had started before and runs again (the runner or its execution was
     * interrupted, e.g. a crash of the local runtime, and resumed): how many starts came before.
     */
    rerun: z.number().int().min(1).optional(),
  }),
  StepAttemptFailed: z.object({
    attempt: Attempt,
    /** Where it failed: the agent, its fallback agent, or the dependency gate. */
    phase: z.enum(['agent', 'fallback', 'gate']),
    error: ErrorInfo,
    willRetry: z.boolean(),
    retryInSeconds: z.number().optional(),
    nextAttempt: Attempt.optional(),
    reason: z.string(),
    /** The step goes to a human review gate. */
    willReview: z.boolean().optional(),
  }),
  StepSucceeded: z.object({
    attempt: Attempt,
    agent: AgentName,
    summary: z.string(),
    output: JsonValue.optional(),
    artifacts: z.array(ArtifactRef),
    /** Set when a reviewer's replacement output made the step succeed. */
    source: z.literal('review').optional(),
    approvalId: z.string().optional(),
    reviewedBy: z.string().optional(),
  }),
  StepFailed: z.object({
    attempts: z.number().int(),
    error: ErrorInfo,
    reason: z.string(),
    /** Set when a gate failed the step: an approval rejected it, or a review failed it. */
    phase: z.enum(['approval', 'review']).optional(),
    approvalId: z.string().optional(),
  }),
  StepSkipped: z.object({ reason: z.string(), failedDependency: StepId, error: ErrorInfo }),
  ArtifactStored: z.object({
    artifactId: z.string(),
    name: z.string(),
    contentType: z.string(),
    size: z.number().int(),
    sha256: z.string(),
  }),
  TaskSucceeded: TaskOutcomeData,
  TaskDegraded: TaskOutcomeData,
  TaskFailed: TaskOutcomeData,
  TaskCancelled: z.object({ run: Run, previousStatus: TaskStatus }),
  ExecutionResumed: z.object({ run: Run, executionArn: z.string(), reason: z.string() }),
  TaskRedriven: z.object({ run: Run, previousRun: Run, previousStatus: TaskStatus }),
  StepFallbackStarted: z.object({
    fallbackAgent: AgentName,
    attempt: Attempt,
    failure: z.object({ agent: AgentName, name: z.string(), message: z.string() }),
  }),
  DeadLetterRecorded: z.object({ run: Run, error: ErrorInfo, failedSteps: z.array(StepId) }),
  ApprovalRequested: z.object({
    approvalId: z.string(),
    kind: ApprovalKind,
    /** 1, or 2 for the escalation of a timed-out gate. */
    round: z.number().int(),
    escalation: z.boolean(),
    requestedAt: z.string(),
    expiresAt: z.string(),
    timeoutSeconds: z.number().int(),
    onTimeout: z.enum(['reject', 'escalate']),
    /** Review gates: the attempt a retry would run. */
    attempt: Attempt.optional(),
    /** Review gates: why the step failed. */
    failure: ErrorInfo.optional(),
  }),
  ApprovalDecided: z.object({
    approvalId: z.string(),
    kind: ApprovalKind,
    round: z.number().int(),
    ...DecisionEventData.shape,
    /** A timed-out round that was escalated to the next. */
    escalated: z.boolean().optional(),
  }),
  /** lambdas/core/call-events.ts: the call events' data, which an agent bundle carries alone. */
  ToolCalled: ToolCalledData,
  ModelCalled: ModelCalledData,
  /** PrepareItems resolved a fan-out step's items (the step's StepStarted comes with it). */
  FanOutStarted: z.object({
    attempt: Attempt,
    run: Run,
    agent: AgentName,
    /** `forEach.items`. */
    items: z.string(),
    /** Items of the step. */
    total: z.number().int(),
    /** Set on a redrive: how many of them this run runs (the ones that failed before). */
    rerun: z.number().int().optional(),
    maxConcurrency: z.number().int(),
    itemsPerBatch: z.number().int(),
    toleratedFailurePercentage: z.number(),
  }),
  /**
   * One failed item (an item event: the envelope's `item` is its index). Successes are counted,
   * not recorded one by one (README "Fan-out steps": cost at 10,000 items).
   */
  FanOutItemFailed: z.object({
    index: z.number().int().min(0),
    /** The item's attempts in this run. */
    attempts: z.number().int(),
    error: ErrorInfo,
  }),
  /** CollectItems: the step's items ended (its StepSucceeded or StepFailed comes with it). */
  FanOutCompleted: z.object({
    total: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    toleratedFailurePercentage: z.number(),
    /** False when more items failed than the step tolerates: the step failed. */
    withinTolerance: z.boolean(),
    /** The step's results.jsonl. */
    artifactId: z.string().optional(),
  }),
} satisfies Record<EventType, z.ZodObject>;

/* ------------------------------------------------------------------ the envelope and the union */

function eventSchema<T extends EventType>(type: T) {
  return z.object({
    id: z.string(),
    /** Strictly increasing per task (gaps are possible). */
    seq: z.number().int(),
    at: z.iso.datetime(),
    type: z.literal(type),
    taskId: z.string(),
    stepId: StepId.optional(),
    /**
     * Set on an item event (one item of a fan-out step: its failure, its agent's tool and model
     * calls): the item's index. Item events are in the trail (GET /tasks/{id}/events pages them),
     * and the task view is folded without them.
     */
    item: z.number().int().min(0).optional(),
    traceId: z.string(),
    data: EVENT_DATA[type],
  });
}

export const TaskEvent = z.discriminatedUnion('type', [
  eventSchema('TaskSubmitted'),
  eventSchema('ExecutionStarted'),
  eventSchema('PlanningStarted'),
  eventSchema('PlanCreated'),
  eventSchema('StepWaiting'),
  eventSchema('StepReady'),
  eventSchema('StepStarted'),
  eventSchema('StepAttemptFailed'),
  eventSchema('StepSucceeded'),
  eventSchema('StepFailed'),
  eventSchema('StepSkipped'),
  eventSchema('ArtifactStored'),
  eventSchema('TaskSucceeded'),
  eventSchema('TaskDegraded'),
  eventSchema('TaskFailed'),
  eventSchema('TaskCancelled'),
  eventSchema('ExecutionResumed'),
  eventSchema('TaskRedriven'),
  eventSchema('StepFallbackStarted'),
  eventSchema('DeadLetterRecorded'),
  eventSchema('ApprovalRequested'),
  eventSchema('ApprovalDecided'),
  eventSchema('ToolCalled'),
  eventSchema('ModelCalled'),
  eventSchema('FanOutStarted'),
  eventSchema('FanOutItemFailed'),
  eventSchema('FanOutCompleted'),
]);
/** A stored event, as the API returns it: `{ id, seq, at, type, taskId, stepId?, traceId, data }`. */
export type TaskEvent = z.infer<typeof TaskEvent>;

/** The union has exactly one member per EventType (a compile error names the one missing). */
const everyTypeHasASchema: Record<Exclude<EventType, TaskEvent['type']>, never> = {};
void everyTypeHasASchema;

/** The stored event of one type. */
export type EventOf<T extends EventType> = Extract<TaskEvent, { type: T }>;
/** The typed `data` of one event type. */
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>;

/** An event before the store gives it `seq` (and `at`, unless set): what `appendEvent` takes. */
export interface NewEventOf<T extends EventType> {
  id: string;
  type: T;
  taskId: string;
  stepId?: string;
  /** An item event's item index (see the envelope). */
  item?: number;
  traceId: string;
  data: EventData<T>;
  at?: string;
}
export type NewEvent = { [T in EventType]: NewEventOf<T> }[EventType];

/** The stored form of a new event: the store's sequence number and time added. */
export function recordedEvent(e: NewEvent, seq: number, now: string): TaskEvent {
  const { stepId, item, at, ...rest } = e;
  return {
    ...rest,
    seq,
    at: at ?? now,
    ...(stepId ? { stepId } : {}),
    ...(item !== undefined ? { item } : {}),
  };
}

/** Whether an event is an item event (one item of a fan-out step), which the task view is folded without. */
export function isItemEvent(e: { item?: number }): boolean {
  return e.item !== undefined;
}

/* ------------------------------------------------------------------ constructors */

/** Where an event happens: the task, its trace, and the run the fact belongs to. */
export interface TaskScope {
  taskId: string;
  traceId: string;
  run: number;
}
export interface StepScope extends TaskScope {
  stepId: string;
}
export interface AttemptScope extends StepScope {
  attempt: number;
}
/** An approval gate: plan gates have no step; review gates name the attempt a retry would run. */
export interface GateScope extends TaskScope {
  stepId?: string;
  attempt?: number;
}
/** One item of a fan-out step's attempt (its item events). */
export interface ItemScope extends AttemptScope {
  index: number;
}
const step = (s: StepScope): IdParts => ({ stepId: s.stepId });
const attempt = (s: AttemptScope): IdParts => ({ stepId: s.stepId, attempt: s.attempt });
type Constructors = { [T in EventType as Uncapitalize<T>]: (...args: never[]) => NewEventOf<T> };

/** One constructor per event type: `Events.stepStarted({ taskId, traceId, run, stepId, attempt }, data)`. */
export const Events = {
  taskSubmitted: (s: TaskScope, data: EventData<'TaskSubmitted'>) => build('TaskSubmitted', s, {}, data),
  executionStarted: (s: TaskScope, data: EventData<'ExecutionStarted'>) =>
    build('ExecutionStarted', s, {}, data),
  planningStarted: (s: TaskScope, data: EventData<'PlanningStarted'> = {}) =>
    build('PlanningStarted', s, {}, data),
  planCreated: (s: TaskScope, data: EventData<'PlanCreated'>) => build('PlanCreated', s, {}, data),
  stepWaiting: (s: StepScope, data: EventData<'StepWaiting'>) => build('StepWaiting', s, step(s), data),
  stepReady: (s: StepScope, data: EventData<'StepReady'> = {}) => build('StepReady', s, step(s), data),
  /** A re-run of the same attempt (`data.rerun`) is an event of its own: the rerun count is part of its id. */
  stepStarted: (s: AttemptScope, data: EventData<'StepStarted'>) =>
    build('StepStarted', s, { ...attempt(s), ...(data.rerun ? { extra: `rerun${data.rerun}` } : {}) }, data),
  stepAttemptFailed: (s: AttemptScope, data: EventData<'StepAttemptFailed'>) =>
    build('StepAttemptFailed', s, attempt(s), data),
  stepSucceeded: (s: StepScope, data: EventData<'StepSucceeded'>) => build('StepSucceeded', s, step(s), data),
  stepFailed: (s: StepScope, data: EventData<'StepFailed'>) => build('StepFailed', s, step(s), data),
  stepSkipped: (s: StepScope, data: EventData<'StepSkipped'>) => build('StepSkipped', s, step(s), data),
  /** One per artifact of an attempt. */
  artifactStored: (s: AttemptScope, data: EventData<'ArtifactStored'>) =>
    build('ArtifactStored', s, { ...attempt(s), extra: data.artifactId }, data),
  taskSucceeded: (s: TaskScope, data: EventData<'TaskSucceeded'>) => build('TaskSucceeded', s, {}, data),
  taskDegraded: (s: TaskScope, data: EventData<'TaskDegraded'>) => build('TaskDegraded', s, {}, data),
  taskFailed: (s: TaskScope, data: EventData<'TaskFailed'>) => build('TaskFailed', s, {}, data),
  taskCancelled: (s: TaskScope, data: EventData<'TaskCancelled'>) => build('TaskCancelled', s, {}, data),
  /** One per resumption of an execution: the time it resumed is part of the id. */
  executionResumed: (s: TaskScope & { resumedAt: string }, data: EventData<'ExecutionResumed'>) =>
    build('ExecutionResumed', s, { extra: s.resumedAt }, data),
  /** `s.run` is the new run. */
  taskRedriven: (s: TaskScope, data: EventData<'TaskRedriven'>) => build('TaskRedriven', s, {}, data),
  stepFallbackStarted: (s: StepScope, data: EventData<'StepFallbackStarted'>) =>
    build('StepFallbackStarted', s, step(s), data),
  deadLetterRecorded: (s: TaskScope, data: EventData<'DeadLetterRecorded'>) =>
    build('DeadLetterRecorded', s, {}, data),
  /** One per approval (a gate's round): its id is part of the event id. */
  approvalRequested: (s: GateScope, data: EventData<'ApprovalRequested'>) =>
    build('ApprovalRequested', s, { stepId: s.stepId, attempt: s.attempt, extra: data.approvalId }, data),
  approvalDecided: (s: GateScope, data: EventData<'ApprovalDecided'>) =>
    build('ApprovalDecided', s, { stepId: s.stepId, attempt: s.attempt, extra: data.approvalId }, data),
  toolCalled,
  modelCalled,
  fanOutStarted: (s: AttemptScope, data: EventData<'FanOutStarted'>) =>
    build('FanOutStarted', s, attempt(s), data),
  /** An item event: one per failed item of a run. */
  fanOutItemFailed: (s: ItemScope, data: EventData<'FanOutItemFailed'>) =>
    build('FanOutItemFailed', s, { ...attempt(s), item: s.index, extra: `i${s.index}` }, data),
  fanOutCompleted: (s: AttemptScope, data: EventData<'FanOutCompleted'>) =>
    build('FanOutCompleted', s, attempt(s), data),
} satisfies Constructors;

/* ------------------------------------------------------------------ task status rule */

/** How one event moves the task: its status, and its count of approvals waiting for a decision. */
export interface TaskStatusEffect {
  /** The status the event moves the task to. */
  status?: TaskStatus;
  /** An approval starts (+1) or stops (-1) waiting for a decision. */
  pendingApproval?: { approvalId: string; delta: 1 | -1 };
  /** A new run starts: the approvals of the old run no longer wait. */
  clearsPendingApprovals?: boolean;
}

const STATUS_OF: Partial<Record<EventType, TaskStatus>> = {
  TaskSubmitted: 'QUEUED',
  PlanningStarted: 'PLANNING',
  PlanCreated: 'RUNNING',
  TaskSucceeded: 'SUCCEEDED',
  TaskDegraded: 'DEGRADED',
  TaskFailed: 'FAILED',
  TaskCancelled: 'CANCELLED',
  TaskRedriven: 'QUEUED',
};

/** The one rule of how an event moves the task (used by the fold and the store's projection). */
export function taskStatusEffect(e: NewEvent): TaskStatusEffect {
  const status = STATUS_OF[e.type];
  const effect: TaskStatusEffect = status ? { status } : {};
  if (e.type === 'ApprovalRequested') effect.pendingApproval = { approvalId: e.data.approvalId, delta: 1 };
  if (e.type === 'ApprovalDecided') effect.pendingApproval = { approvalId: e.data.approvalId, delta: -1 };
  if (e.type === 'TaskRedriven') effect.clearsPendingApprovals = true;
  return effect;
}

/**
 * A task is AWAITING_APPROVAL while it is RUNNING and at least one of its gates waits for a
 * decision (several can wait at once); when the last is decided it is RUNNING again. Terminal
 * and queued statuses are never changed by approvals.
 */
export const AWAITING_APPROVAL_RULE = { while: 'RUNNING', becomes: 'AWAITING_APPROVAL' } as const;

/** The task's status given its event-set status and how many approvals wait for a decision. */
export function withPendingApprovals(status: TaskStatus, pendingApprovals: number): TaskStatus {
  return status === AWAITING_APPROVAL_RULE.while && pendingApprovals > 0
    ? AWAITING_APPROVAL_RULE.becomes
    : status;
}

/**
 * What the attempt of a StepSucceeded (of run `run`) produced, as the step runner held it (AttemptRecord): the
 * event is that record once written. Its completion's events were numbered from `firstSeq` (an
 * ArtifactStored per artifact, then the StepSucceeded itself).
 */
export function succeededAttempt(e: TaskEvent, run: number): AttemptRecord | undefined {
  if (e.type !== 'StepSucceeded' || e.stepId === undefined) return undefined;
  const d = e.data;
  return {
    stepId: e.stepId,
    run,
    attempt: d.attempt,
    agent: d.agent,
    summary: d.summary,
    ...(d.output !== undefined ? { output: d.output } : {}),
    artifacts: d.artifacts,
    at: e.at,
    firstSeq: e.seq - d.artifacts.length,
  };
}
