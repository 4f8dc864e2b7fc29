/**
 * The state store's ports: one interface per aggregate, what the use cases depend on. Pure (no
 * @aws-sdk): the DynamoDB adapters (`lambdas/adapters/dynamodb/`, composed by
 * `lambdas/adapters/store.ts`) and the in-memory fake of the unit tests (`test/fakes/`) implement
 * them, and one contract suite (`test/contract/store.contract.ts`) runs against both.
 *
 * Data plane: tasks, events, step results, artifacts, dead letters. Control plane: task tokens,
 * approvals, idempotency keys; these take their own table in the adapters, so they can live
 * where no agent role reaches. A use case names the ports it needs, e.g.
 * `store: TaskPort & EventPort & ResultPort`.
 */
import type { ApprovalDecision, ApprovalKind, ApprovalStatus } from './approvals.js';
import type { NewEvent, TaskEvent } from './events.js';
import type { CounterTotals, ItemCounter, ItemCounts } from './fanout.js';
import type { TaskMeta } from './fold.js';
import type { ArtifactRef, Json, Plan, Policy, StepStatus, TaskStatus, TaskSummary } from './schemas.js';

export type { NewEvent } from './events.js';

/* ------------------------------------------------------------------------------- records */

export interface StoredTask extends TaskMeta {
  status: TaskStatus;
  updatedAt: string;
  policy: Policy;
  run: number;
  requestHash: string;
  idempotencyKey?: string;
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
  /**
   * A fan-out step's item counts. A SUCCEEDED result with failed items (within the step's
   * tolerance) is not final: a later run (redrive) re-runs those items and replaces it.
   */
  items?: ItemCounts;
  at: string;
  /**
   * A SUCCEEDED result's completion: the seq of its first event (an ArtifactStored per artifact,
   * then StepSucceeded). The result and those events are written side by side, so a completion
   * cut short after the result finishes from it, the events in their numbered place.
   */
  firstSeq?: number;
}

/**
 * What a successful agent attempt produced, as the step runner holds it until the step completes.
 * It is not stored on its own: the completion writes it as the step's StepSucceeded event and its
 * result side by side, and a completion cut short is finished from whichever of the two exists
 * (`getSucceeded` reads it back from the event).
 */
export interface AttemptRecord {
  stepId: string;
  run: number;
  attempt: number;
  agent: string;
  summary: string;
  output?: Json;
  artifacts: ArtifactRef[];
  at: string;
  /**
   * The sequence numbers reserved for the completion's events (ArtifactStored per artifact, then
   * StepSucceeded), from this one: a completion done again after a crash writes them with the
   * same numbers, so their place in the trail does not depend on when they were written.
   */
  firstSeq?: number;
  /**
   * Read back from a StepSucceeded on its own item (written before a plain step's result carried
   * it: ResultPort.putSuccess): a completion finished from it writes the result alone.
   */
  succeededStored?: true;
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

/** Who owns an idempotency key: the given task when the key is new (`fresh`), else the earlier one. */
export interface IdempotencyClaim {
  taskId: string;
  requestHash: string;
  fresh: boolean;
}

/** A page of tasks, newest first; `next` is an opaque cursor (absent on the last page). */
export interface TaskPage {
  tasks: TaskSummary[];
  next: string | undefined;
}

/** A page of events in `seq` order; `next` is the `after` of the following page. */
export interface EventPage {
  events: TaskEvent[];
  next: number | undefined;
}

/* --------------------------------------------------------------------------------- ports */

/** The sequence number of a task's first event (its TaskSubmitted): taken when the task is created. */
export const SUBMITTED_SEQ = 1;

/** Tasks: META (with the status projection), INPUTS and PLAN; listing; runs (redrive). */
export interface TaskPort {
  /**
   * Writes the task's items: INPUTS, the event COUNTER and, when given, the explicit PLAN side by
   * side, then META, so that a task exists (META) only once all of it does. Safe to repeat with
   * the same values (a retried request); a plan already stored is kept. The COUNTER starts with
   * number `SUBMITTED_SEQ` taken: the task's first event (its TaskSubmitted) is written with it
   * (`appendEvents(…, { firstSeq: SUBMITTED_SEQ })`), beside these writes, with no reservation.
   */
  createTask(task: StoredTask, inputs: Record<string, Json>, plan?: Plan): Promise<void>;
  getTask(taskId: string): Promise<StoredTask | undefined>;
  /** The request's inputs; `{}` when the task has none. */
  getInputs(taskId: string): Promise<Record<string, Json>>;
  /** Stores the plan once; a second call keeps the first plan and returns it. */
  putPlan(taskId: string, plan: Plan): Promise<Plan>;
  getPlan(taskId: string): Promise<Plan | undefined>;
  /** The task record and its plan in one read (strongly consistent; the plan as getPlan gives it). */
  getTaskAndPlan(taskId: string): Promise<{ task?: StoredTask; plan?: Plan }>;
  /** Newest first, by status or all; a cursor this store did not return is an `InvalidCursorError`. */
  listTasks(opts: { status?: TaskStatus; limit: number; cursor?: string }): Promise<TaskPage>;
  /** Moves the task to a new run (redrive). Returns false if another redrive got there first. */
  setRun(taskId: string, run: number): Promise<boolean>;
}

/** Events: the immutable audit trail; appending one also projects the task's status. */
export interface EventPort {
  /**
   * Appends an event unless one with the same id exists. Returns the stored event, or
   * undefined for a duplicate. `seq` is strictly increasing per task (gaps are possible).
   */
  appendEvent(e: NewEvent): Promise<TaskEvent | undefined>;
  /**
   * Appends several events of one task with one sequence reservation, in the order given (each
   * unless one with its id exists). Returns each stored event, or undefined for a duplicate.
   */
  appendEvents(
    events: readonly NewEvent[],
    /** Numbers reserved before (`reserveSeqs`): event i gets `firstSeq + i`, no reservation is made. */
    opts?: { firstSeq?: number },
  ): Promise<(TaskEvent | undefined)[]>;
  /**
   * Reserves `count` sequence numbers of the task's trail for events written later (appendEvents
   * with `firstSeq`) and returns the first. Numbers reserved and never used are gaps.
   * `cancelled`: the task's TaskCancelled has been numbered (appending it marks the sequence in
   * the same write), so a reservation also tells a step runner whether to discard its attempt,
   * without reading the task.
   */
  reserveSeqs(taskId: string, count: number): Promise<{ first: number; cancelled: boolean }>;
  listEvents(taskId: string, opts: { after?: number; limit: number }): Promise<EventPage>;
  /**
   * The events whose id starts with `prefix`, in seq order: ids are deterministic
   * (`r<run>.<Type>.<step>.<attempt>…`, ids.ts), so this reads one fact's copies (an attempt's
   * starts, say) without reading the trail.
   */
  eventsWithIdPrefix(taskId: string, prefix: string): Promise<TaskEvent[]>;
  /**
   * The task's own events, in seq order: every event but item events (a fan-out step's items,
   * which `listEvents` pages with the rest). What the task view folds.
   */
  allEvents(taskId: string): Promise<TaskEvent[]>;
}

/** Step results (what dependents and finalize read) and agent attempts (before the step completes). */
export interface ResultPort {
  /**
   * Records a step's outcome for a run. A SUCCEEDED result is final across runs; a failed or
   * skipped one can be replaced by a later run (redrive). Returns false if it was not written.
   */
  putResult(taskId: string, result: StepResult): Promise<boolean>;
  /**
   * A plain step's success (not a fan-out step's), at once: its SUCCEEDED result (putResult's
   * condition) and its StepSucceeded `event`, numbered `seq` (reserved before) and dated with the
   * result, written together or not at all (the DynamoDB adapter: one item). Returns false when
   * neither was written: the step has a success already, with its own event.
   */
  putSuccess(taskId: string, success: { result: StepResult; event: NewEvent; seq: number }): Promise<boolean>;
  /**
   * The results of the task's steps, or of only `stepIds` (a step reads its own and its
   * dependencies', not every step's: O(dependencies), not O(steps)).
   */
  getResults(taskId: string, stepIds?: readonly string[]): Promise<Map<string, StepResult>>;
  /**
   * What the attempt that made the step succeed in `run` produced, read back from the step's
   * StepSucceeded event (`firstSeq`: that of the completion's first event); undefined before.
   */
  getSucceeded(taskId: string, run: number, stepId: string): Promise<AttemptRecord | undefined>;
  /**
   * The step runner's first look, in one read: the task record, the results of `stepIds` (the
   * step's own and its dependencies'), getSucceeded of `step` in `run`, and the task's inputs.
   */
  getStepContext(
    taskId: string,
    stepIds: readonly string[],
    /**
     * `gates`: steps whose parked tokens (of `run`) to read beside: a step runner's dependents,
     * whose gates its completion releases (lambdas/orchestrator/gate.ts readyDependents).
     */
    step: {
      run: number;
      stepId: string;
      gates?: readonly string[];
      /**
       * `start`: the attempt about to start with a StepStarted number its releaser carried: the
       * step's StepWaiting of `run` and its StepStarted of the attempt before are read beside
       * (StepContext.start), to tell whether the number may be used (runner.ts).
       */
      start?: { attempt: number };
    },
  ): Promise<StepContext>;
}

/** What `getStepContext` reads. */
export interface StepContext {
  task?: StoredTask;
  inputs: Record<string, Json>;
  results: Map<string, StepResult>;
  succeeded?: AttemptRecord;
  /** Of the `gates` asked for, those parked, by step id. */
  gates: Map<string, ParkedGate>;
  /** When `start` was asked for: the step's StepWaiting seq, and whether the attempt before started in this run. */
  start?: { waitingSeq?: number; earlierAttempt: boolean };
}

/** A parked gate's token, and whether its execution's definition takes the gate's routes. */
export interface ParkedGate {
  token: string;
  routes: boolean;
}

/** Control plane. The dependency gate's task tokens (they never leave the backend). */
export interface TokenPort {
  /**
   * Stores (or replaces) the token a parked step waits with. `routes`: its execution's definition
   * catches the gate's routes (lambdas/core/states.ts gateRoute), so releasers answer with them;
   * without it (an execution started on an older definition) they answer `{ action }`.
   */
  putToken(taskId: string, run: number, stepId: string, token: string, routes?: boolean): Promise<void>;
  getToken(taskId: string, run: number, stepId: string): Promise<string | undefined>;
  /**
   * A gate's look (lambdas/orchestrator/gate.ts): the results of `stepIds` and the token `gate`
   * parked with (and whether it takes routes), strongly consistent, in one read where tokens and
   * results share a table.
   */
  getResultsAndToken(
    taskId: string,
    stepIds: readonly string[],
    gate: { run: number; stepId: string },
  ): Promise<{ results: Map<string, StepResult>; token?: string; routes?: boolean }>;
}

/** Control plane. Approval gates: records, decisions (single-use) and, while PENDING, the gate's token. */
export interface ApprovalPort {
  /**
   * Creates the approval of a gate round, once: a retried or resumed request finds the one that
   * exists (`created: false`) instead of making another. Also writes the lookup by id.
   */
  createApproval(
    item: ApprovalItem & { taskToken: string },
  ): Promise<{ created: boolean; item: ApprovalItem }>;
  /** The latest round of a gate's approval, if it was ever requested. */
  latestApproval(taskId: string, gate: ApprovalGate): Promise<ApprovalItem | undefined>;
  /** Every approval of a task (all runs, all rounds). */
  listTaskApprovals(taskId: string): Promise<ApprovalItem[]>;
  /** An approval by its id (what links and the API carry). */
  getApproval(approvalId: string): Promise<ApprovalItem | undefined>;
  /** Hands a PENDING approval the token of the gate now waiting for it (a resumed execution). */
  setApprovalToken(item: ApprovalItem, token: string): Promise<boolean>;
  /**
   * Moves a PENDING approval on (decided, expired, closed), exactly once. The token is removed
   * in the same write and returned to the caller that won. `undefined` when it was not PENDING.
   */
  transitionApproval(item: ApprovalItem, next: ApprovalTransition): Promise<{ token?: string } | undefined>;
  /** Closes the PENDING gates of a task that stopped waiting (their links answer 410). */
  closePendingApprovals(taskId: string, reason: string): Promise<void>;
  /** Approvals by status, newest first. */
  listApprovals(opts: { status: ApprovalStatus; limit: number }): Promise<ApprovalItem[]>;
}

/** Dead letters of failed runs (once per task and run). */
export interface DeadLetterPort {
  /** Records a failed run's dead letter; false when that run already has one. */
  putDeadLetter(rec: DeadLetterRecord): Promise<boolean>;
  /** Newest first; by default only the ones not redriven yet. */
  listDeadLetters(opts: { includeRedriven?: boolean; limit: number }): Promise<DeadLetterRecord[]>;
  /** Marks a run's dead letter REDRIVEN; nothing happens when there is none. */
  markDeadLetterRedriven(taskId: string, run: number, redrivenAt: string): Promise<void>;
}

/** Artifact metadata (the bytes live in S3, `lambdas/adapters/artifacts.ts`). */
export interface ArtifactPort {
  /** Records an artifact once; a repeated write keeps the first record. */
  putArtifact(taskId: string, art: StoredArtifact): Promise<void>;
  listArtifacts(taskId: string): Promise<StoredArtifact[]>;
  getArtifact(taskId: string, artifactId: string): Promise<StoredArtifact | undefined>;
  /** The records of `artifactIds` that exist, by id, in one read. */
  getArtifacts(taskId: string, artifactIds: readonly string[]): Promise<Map<string, StoredArtifact>>;
}

/**
 * Fan-out progress: per step and run, counters of items started, succeeded and failed, in
 * shards (lambdas/core/fanout.ts COUNTER_SHARDS) so that items ending at once spread their writes.
 */
export interface FanOutPort {
  /** Adds `by` (default 1) to a counter of the shard of item `index`. */
  countItem(
    taskId: string,
    run: number,
    stepId: string,
    index: number,
    counter: ItemCounter,
    by?: number,
  ): Promise<void>;
  /** The counters of a step's run, summed over the shards (zeros when nothing was counted). */
  itemCounters(taskId: string, run: number, stepId: string): Promise<CounterTotals>;
}

/** Control plane. Idempotency keys of submissions (kept 24 h). */
export interface IdempotencyPort {
  /**
   * Claims an idempotency key for a task. Returns the task id that owns the key: the given one
   * when the key is new, the earlier one when the same key was used before.
   */
  claimIdempotencyKey(
    key: string,
    taskId: string,
    requestHash: string,
    now: string,
  ): Promise<IdempotencyClaim>;
}

/** The data plane: what the task table holds (agents' functions reach a part of it). */
export type DataPorts = TaskPort & EventPort & ResultPort & ArtifactPort & DeadLetterPort;
/** The control plane: what only the orchestrator and the API touch (its own table name). */
export type ControlPorts = TokenPort & ApprovalPort & IdempotencyPort;
/** Every port: what the composed store (`TaskStore`) and the in-memory fake implement. */
export type StorePorts = DataPorts & ControlPorts;
