/**
 * The state store as the handlers wire it: one object implementing every port of
 * `lambdas/core/ports.ts`, composed of the DynamoDB adapters in `./dynamodb/` (one per
 * aggregate; key design in `./dynamodb/table.ts`). Use cases do not depend on this class but on
 * the ports they need.
 *
 * The control-plane aggregates (task tokens, approvals, idempotency keys) take their own table
 * name: today the stack gives both the same table; a separate table only agents' roles cannot
 * reach needs no change here.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recordedEvent, succeededAttempt } from '../core/events.js';
import { eventId } from '../core/ids.js';
import type {
  ApprovalPort,
  ArtifactPort,
  AttemptRecord,
  DeadLetterPort,
  EventPort,
  IdempotencyPort,
  ResultPort,
  StepContext,
  StepResult,
  StorePorts,
  TaskPort,
  TokenPort,
} from '../core/ports.js';
import { DynamoApprovals } from './dynamodb/approvals.js';
import { DynamoArtifacts } from './dynamodb/artifacts.js';
import { DynamoDeadLetters } from './dynamodb/dead-letters.js';
import { DynamoEvents, eventKey, isFolded, toEvent } from './dynamodb/events.js';
import { DynamoIdempotency } from './dynamodb/idempotency.js';
import { DynamoResults, resultKey, resultOf } from './dynamodb/results.js';
import { DynamoTable, type Item, StoreError } from './dynamodb/table.js';
import { DynamoTasks, inputsKey, inputsOf, metaKey, taskOf } from './dynamodb/tasks.js';
import { DynamoTokens, tokenKey } from './dynamodb/tokens.js';

// Where these lived before the split; importers keep working.
export type {
  ApprovalGate,
  ApprovalItem,
  ApprovalTransition,
  AttemptRecord,
  DeadLetterRecord,
  NewEvent,
  StepResult,
  StoredArtifact,
  StoredTask,
} from '../core/ports.js';
export { InvalidCursorError, StoreError, TABLE_INDEXES } from './dynamodb/table.js';

/** The key of a step's StepSucceeded in a run (its id is deterministic: one per run and step). */
const succeededKey = (taskId: string, run: number, stepId: string) =>
  eventKey(taskId, { id: eventId({ run, type: 'StepSucceeded', stepId }) });
/**
 * What the attempt that made `stepId` succeed in `run` produced, from an item holding its
 * StepSucceeded: the step's result carrying it (events.ts foldedSucceeded), or its own event item
 * (written before the fold). Undefined for any other item, or a success of another run.
 */
function succeededIn(item: Item, run: number, stepId: string): AttemptRecord | undefined {
  if (String(item.sk).startsWith('RESULT#') && !isFolded(item)) return undefined;
  const event = toEvent(item);
  return event.id === eventId({ run, type: 'StepSucceeded', stepId })
    ? succeededAttempt(event, run)
    : undefined;
}

/** The keys of what tells a step runner whether it may use a carried StepStarted number (StepContext.start). */
const startKeys = (taskId: string, run: number, stepId: string, attempt: number) => ({
  waiting: eventKey(taskId, { id: eventId({ run, type: 'StepWaiting', stepId }) }),
  earlier:
    attempt > 1
      ? eventKey(taskId, { id: eventId({ run, type: 'StepStarted', stepId, attempt: attempt - 1 }) })
      : undefined,
});

/** Values read once per key (a found value is kept; a missing one is read again), the oldest dropped past `max`. */
class ReadOnce<V> {
  private readonly values = new Map<string, V>();
  constructor(private readonly max: number) {}
  async get(key: string, read: () => Promise<V | undefined>): Promise<V | undefined> {
    const kept = this.peek(key);
    if (kept !== undefined) return kept;
    const value = await read();
    return value === undefined ? undefined : this.keep(key, value);
  }
  /** The value kept for `key` (a copy), if any. */
  peek(key: string): V | undefined {
    const kept = this.values.get(key);
    return kept === undefined ? undefined : structuredClone(kept);
  }
  /** Keeps a value read elsewhere (e.g. in a BatchGetItem of several items); returns a copy. */
  keep(key: string, value: V): V {
    if (this.values.size >= this.max) this.values.delete(this.values.keys().next().value as string);
    this.values.set(key, value);
    return structuredClone(value);
  }
}

export class TaskStore implements StorePorts {
  private readonly immutable = {
    plans: new ReadOnce<Awaited<ReturnType<TaskPort['getPlan']>> & object>(500),
    inputs: new ReadOnce<Awaited<ReturnType<TaskPort['getInputs']>> & object>(500),
  };
  private readonly tasks: TaskPort;
  private readonly events: EventPort;
  private readonly results: DynamoResults;
  private readonly artifacts: ArtifactPort;
  private readonly deadLetters: DeadLetterPort;
  private readonly tokens: Omit<TokenPort, 'getResultsAndToken'>;
  private readonly approvals: ApprovalPort;
  private readonly idempotency: IdempotencyPort;
  /** The data plane's table (reads of several aggregates' items in one BatchGetItem). */
  private readonly table: DynamoTable;
  /** The control table (task tokens). */
  private readonly tokenTable: DynamoTable;
  /** The table, when tokens live in it too (reads that take both in one BatchGetItem). */
  private readonly shared: DynamoTable | undefined;

  /** `controlTable`: where task tokens, approvals and idempotency keys live (default: `table`). */
  constructor(ddb: DynamoDBDocumentClient, table: string, controlTable: string = table) {
    this.tasks = new DynamoTasks(ddb, table);
    this.events = new DynamoEvents(ddb, table);
    this.results = new DynamoResults(ddb, table);
    this.artifacts = new DynamoArtifacts(ddb, table);
    this.deadLetters = new DynamoDeadLetters(ddb, table);
    this.tokens = new DynamoTokens(ddb, controlTable);
    this.approvals = new DynamoApprovals(ddb, controlTable);
    this.idempotency = new DynamoIdempotency(ddb, controlTable);
    this.table = new DynamoTable(ddb, table);
    this.tokenTable = new DynamoTable(ddb, controlTable);
    this.shared = controlTable === table ? this.table : undefined;
  }

  // tasks
  readonly createTask: TaskPort['createTask'] = (...a) => this.tasks.createTask(...a);
  readonly getTask: TaskPort['getTask'] = (...a) => this.tasks.getTask(...a);
  /**
   * A task's inputs and plan never change once written (the first write wins, conditionally), so
   * each function instance reads them once per task: a warm Lambda serving a task's steps reads
   * its plan once, not once per state.
   */
  readonly getInputs: TaskPort['getInputs'] = async (taskId) =>
    (await this.immutable.inputs.get(taskId, () => this.tasks.getInputs(taskId))) ?? {};
  readonly putPlan: TaskPort['putPlan'] = (...a) => this.tasks.putPlan(...a);
  readonly getPlan: TaskPort['getPlan'] = (taskId) =>
    this.immutable.plans.get(taskId, () => this.tasks.getPlan(taskId));
  /** The plan from this instance's cache when held (then only the task record is read). */
  readonly getTaskAndPlan: TaskPort['getTaskAndPlan'] = async (taskId) => {
    const cached = this.immutable.plans.peek(taskId);
    if (cached) {
      const task = await this.tasks.getTask(taskId);
      return { ...(task ? { task } : {}), plan: cached };
    }
    const { task, plan } = await this.tasks.getTaskAndPlan(taskId);
    return { ...(task ? { task } : {}), ...(plan ? { plan: this.immutable.plans.keep(taskId, plan) } : {}) };
  };
  readonly listTasks: TaskPort['listTasks'] = (...a) => this.tasks.listTasks(...a);
  readonly setRun: TaskPort['setRun'] = (...a) => this.tasks.setRun(...a);
  // events
  readonly appendEvent: EventPort['appendEvent'] = (...a) => this.events.appendEvent(...a);
  readonly listEvents: EventPort['listEvents'] = (...a) => this.events.listEvents(...a);
  readonly allEvents: EventPort['allEvents'] = (...a) => this.events.allEvents(...a);
  readonly appendEvents: EventPort['appendEvents'] = (...a) => this.events.appendEvents(...a);
  readonly reserveSeqs: EventPort['reserveSeqs'] = (...a) => this.events.reserveSeqs(...a);
  readonly eventsWithIdPrefix: EventPort['eventsWithIdPrefix'] = (...a) =>
    this.events.eventsWithIdPrefix(...a);
  // step results and attempts
  readonly putResult: ResultPort['putResult'] = (...a) => this.results.putResult(...a);
  readonly getResults: ResultPort['getResults'] = (...a) => this.results.getResults(...a);
  readonly putSuccess: ResultPort['putSuccess'] = async (taskId, { result, event, seq }) => {
    if (event.taskId !== taskId) throw new StoreError('putSuccess takes an event of its task');
    return this.results.putSuccess(taskId, result, recordedEvent(event, seq, result.at));
  };
  /** The StepSucceeded of `run` folded into the step's result, or (written before the fold) its own item. */
  readonly getSucceeded: ResultPort['getSucceeded'] = async (taskId, run, stepId) => {
    const items = await this.table.getMany([resultKey(taskId, stepId), succeededKey(taskId, run, stepId)]);
    for (const item of items) {
      const rec = succeededIn(item, run, stepId);
      if (rec) return rec;
    }
    return undefined;
  };
  /**
   * One BatchGetItem: META, the results, the step's StepSucceeded of the run, INPUTS unless this
   * instance holds them (immutable: kept like the plan), and the tokens of the `gates` asked for
   * (in the same call where tokens share the table; beside it otherwise).
   */
  readonly getStepContext: ResultPort['getStepContext'] = async (taskId, stepIds, step) => {
    const cached = this.immutable.inputs.peek(taskId);
    const succeeded = succeededKey(taskId, step.run, step.stepId);
    const gateIds = [...new Set(step.gates ?? [])];
    const gateKeys = gateIds.map((id) => tokenKey(taskId, step.run, id));
    const start = step.start ? startKeys(taskId, step.run, step.stepId, step.start.attempt) : undefined;
    const keys = [
      metaKey(taskId),
      ...(cached ? [] : [inputsKey(taskId)]),
      succeeded,
      ...[...new Set(stepIds)].map((id) => resultKey(taskId, id)),
      ...(start ? [start.waiting, ...(start.earlier ? [start.earlier] : [])] : []),
    ];
    const [items, tokenItems] = this.shared
      ? [await this.shared.getMany([...keys, ...gateKeys]), []]
      : await Promise.all([
          this.table.getMany(keys),
          gateKeys.length > 0 ? this.tokenTable.getMany(gateKeys) : [],
        ]);
    const out: StepContext = {
      inputs: cached ?? {},
      results: new Map(),
      gates: new Map(),
      ...(start ? { start: { earlierAttempt: false } } : {}),
    };
    const gateOf = new Map(gateKeys.map((k, i) => [k.sk, gateIds[i] as string]));
    for (const item of [...items, ...tokenItems]) {
      const gate = gateOf.get(String(item.sk));
      if (gate !== undefined) {
        out.gates.set(gate, { token: item.token as string, routes: DynamoTokens.routesOf(item) });
        continue;
      }
      const result = resultOf(item);
      if (result) {
        out.results.set(result.stepId, result);
        // The step's own success, folded into its result (events.ts foldedSucceeded); the other
        // results' events are not parsed.
        const rec = result.stepId === step.stepId ? succeededIn(item, step.run, step.stepId) : undefined;
        if (rec) out.succeeded = rec;
      } else if (item.sk === 'META') out.task = taskOf(item);
      else if (item.sk === 'INPUTS') out.inputs = this.immutable.inputs.keep(taskId, inputsOf(item));
      else if (item.sk === succeeded.sk) {
        const rec = succeededIn(item, step.run, step.stepId);
        if (rec) out.succeeded = rec;
      } else if (out.start && item.sk === start?.waiting.sk) out.start.waitingSeq = Number(item.seq);
      else if (out.start && item.sk === start?.earlier?.sk) out.start.earlierAttempt = true;
    }
    return out;
  };
  // artifacts
  readonly putArtifact: ArtifactPort['putArtifact'] = (...a) => this.artifacts.putArtifact(...a);
  readonly listArtifacts: ArtifactPort['listArtifacts'] = (...a) => this.artifacts.listArtifacts(...a);
  readonly getArtifact: ArtifactPort['getArtifact'] = (...a) => this.artifacts.getArtifact(...a);
  readonly getArtifacts: ArtifactPort['getArtifacts'] = (...a) => this.artifacts.getArtifacts(...a);
  // dead letters
  readonly putDeadLetter: DeadLetterPort['putDeadLetter'] = (...a) => this.deadLetters.putDeadLetter(...a);
  readonly listDeadLetters: DeadLetterPort['listDeadLetters'] = (...a) =>
    this.deadLetters.listDeadLetters(...a);
  readonly markDeadLetterRedriven: DeadLetterPort['markDeadLetterRedriven'] = (...a) =>
    this.deadLetters.markDeadLetterRedriven(...a);
  // control plane: task tokens
  readonly putToken: TokenPort['putToken'] = (...a) => this.tokens.putToken(...a);
  readonly getToken: TokenPort['getToken'] = (...a) => this.tokens.getToken(...a);
  readonly getResultsAndToken: TokenPort['getResultsAndToken'] = async (taskId, stepIds, gate) => {
    const own = tokenKey(taskId, gate.run, gate.stepId);
    const [items, tokenItems] = this.shared
      ? [await this.shared.getMany([...new Set(stepIds)].map((id) => resultKey(taskId, id)).concat(own)), []]
      : await Promise.all([
          this.table.getMany([...new Set(stepIds)].map((id) => resultKey(taskId, id))),
          this.tokenTable.getMany([own]),
        ]);
    const results = new Map<string, StepResult>();
    let found: Item | undefined;
    for (const item of [...items, ...tokenItems]) {
      if (item.sk === own.sk) found = item;
      const result = resultOf(item);
      if (result) results.set(result.stepId, result);
    }
    if (!found) return { results };
    return {
      results,
      token: found.token as string,
      ...(DynamoTokens.routesOf(found) ? { routes: true } : {}),
    };
  };
  // control plane: approvals
  readonly createApproval: ApprovalPort['createApproval'] = (...a) => this.approvals.createApproval(...a);
  readonly latestApproval: ApprovalPort['latestApproval'] = (...a) => this.approvals.latestApproval(...a);
  readonly listTaskApprovals: ApprovalPort['listTaskApprovals'] = (...a) =>
    this.approvals.listTaskApprovals(...a);
  readonly getApproval: ApprovalPort['getApproval'] = (...a) => this.approvals.getApproval(...a);
  readonly setApprovalToken: ApprovalPort['setApprovalToken'] = (...a) =>
    this.approvals.setApprovalToken(...a);
  readonly transitionApproval: ApprovalPort['transitionApproval'] = (...a) =>
    this.approvals.transitionApproval(...a);
  readonly closePendingApprovals: ApprovalPort['closePendingApprovals'] = (...a) =>
    this.approvals.closePendingApprovals(...a);
  readonly listApprovals: ApprovalPort['listApprovals'] = (...a) => this.approvals.listApprovals(...a);
  // control plane: idempotency keys
  readonly claimIdempotencyKey: IdempotencyPort['claimIdempotencyKey'] = (...a) =>
    this.idempotency.claimIdempotencyKey(...a);
}
