/**
 * Local Step Functions: runs the ASL definition that `cdk deploy` ships on aws-local-stepfunctions,
 * with what that library lacks and Baton needs: the task-token callback pattern, HeartbeatSeconds,
 * AWS-shaped Lambda errors, executions persisted on disk (and re-run after a crash), and an HTTP
 * endpoint speaking the awsJson1_0 protocol of the AWS SDK's SFN client.
 *
 * Every Task state (at any depth) runs through the library's `taskResourceLocalHandlers`, so the
 * emulator, not the library, talks to Lambdas. Task timeouts are enforced here too (see
 * `prepareDefinition`), the rest of the ASL semantics (Choice, Map, Parallel, Retry, Catch,
 * paths, intrinsics) is the library's.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/**
 * Invokes a Lambda function in process. Resolves with the function's JSON result, or rejects with
 * an Error whose `name` is the Lambda errorType and `message` the errorMessage.
 */
export type LocalLambdaInvoker = (functionName: string, payload: unknown) => Promise<unknown>;

/** Runs a non-Lambda Task resource (e.g. `arn:aws:states:::sqs:sendMessage`) with its processed Parameters. */
export type LocalServiceIntegration = (parameters: unknown) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  /** Executions are stored as JSON files under `<dataDir>/executions/`. */
  dataDir: string;
  invokeLambda: LocalLambdaInvoker;
  /** Structured log sink (one object per line). Default: silent. */
  log?: (line: Record<string, unknown>) => void;
  /**
   * Timeout for Task states that set neither TimeoutSeconds nor TimeoutSecondsPath.
   * Default 60, the aws-local-stepfunctions default. AWS itself has none: a Lambda task is bounded
   * by the function's own timeout, a callback task only by the execution's.
   */
  defaultTaskTimeoutSeconds?: number;
  /** Handlers for Task resources other than Lambda, keyed by the exact Resource ARN. */
  serviceIntegrations?: Record<string, LocalServiceIntegration>;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** One entry of an execution's history, in the shape of the SFN HistoryEvent (timestamp as ISO 8601). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: string;
  type: string;
  [details: string]: unknown;
}

/** The persisted form of an execution (`<dataDir>/executions/*.json`). */
export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  /** Execution input as JSON text, as in the SFN API. */
  input: string;
  /** Execution output as JSON text (SUCCEEDED only). */
  output?: string;
  error?: string;
  cause?: string;
  startDate: string;
  stopDate?: string;
  /** How many times the execution was re-run from the start after the process stopped. */
  redriveCount: number;
  history: HistoryEvent[];
}

export type SfnErrorName =
  | 'ExecutionAlreadyExists'
  | 'ExecutionDoesNotExist'
  | 'StateMachineDoesNotExist'
  | 'InvalidArn'
  | 'InvalidName'
  | 'InvalidDefinition'
  | 'InvalidExecutionInput'
  | 'InvalidOutput'
  | 'InvalidToken'
  | 'TaskTimedOut'
  | 'ValidationException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'ServiceUnavailable';

/** A Step Functions service error; over HTTP it becomes a 400 with `{"__type": name, "message": ...}`. */
export class SfnServiceError extends Error {
  override readonly name: SfnErrorName;
  constructor(name: SfnErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors thrown into the state machine (what Retry/Catch see as Error and Cause)
// ---------------------------------------------------------------------------------------------

/**
 * A failed Task as the state machine sees it: aws-local-stepfunctions takes `name` as the Error
 * and `message` as the Cause, so `message` (and `cause`) hold the AWS Cause text.
 */
class TaskFailedError extends Error {
  constructor(error: string, cause: string) {
    super(cause, { cause });
    this.name = error;
  }
}

/** Neither retried nor caught (not even by States.ALL): States.Runtime, States.DataLimitExceeded. */
class TerminalTaskError extends TaskFailedError {
  get isRetryable(): boolean {
    return false;
  }
  get isCatchable(): boolean {
    return false;
  }
}

/** Thrown into a task whose execution has been stopped, so the library's background work ends. */
class ExecutionEndedError extends TerminalTaskError {
  constructor() {
    super('Baton.ExecutionEnded', 'The execution has ended');
  }
}

/**
 * States.Timeout. The library excludes timeouts from the States.TaskFailed wildcard with an
 * `instanceof` check against its own, unexported StatesTimeoutError; `linkTimeoutErrors` puts that
 * class into this one's prototype chain so our timeouts are excluded the same way (as in AWS).
 */
class StatesTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'States.Timeout';
  }
}

/** States.HeartbeatTimeout: a timeout, matched by ErrorEquals "States.Timeout" as in AWS (see prepareDefinition). */
class HeartbeatTimeoutError extends StatesTimeoutError {
  constructor(message: string) {
    super(message);
    this.name = 'States.HeartbeatTimeout';
  }
}

let timeoutErrorsLinked: Promise<boolean> | undefined;

/** Finds the library's StatesTimeoutError by letting a 1 ms Task time out, then links our classes to it. */
function linkTimeoutErrors(): Promise<boolean> {
  timeoutErrorsLinked ??= (async () => {
    const probe = new StateMachine(
      {
        StartAt: 'Probe',
        States: {
          Probe: {
            Type: 'Task',
            Resource: 'arn:aws:lambda:us-east-1:123456789012:function:probe',
            TimeoutSeconds: 0.001,
            End: true,
          },
        },
      },
      { validationOptions: { noValidate: true } },
    );
    const slow = () => new Promise<null>((resolve) => setTimeout(() => resolve(null), 50));
    try {
      await probe.run(null, { overrides: { taskResourceLocalHandlers: { Probe: slow } } }).result;
    } catch (err) {
      const timeout = err instanceof ExecutionError ? err.cause : undefined;
      if (timeout instanceof Error && timeout.name === 'States.Timeout') {
        Object.setPrototypeOf(StatesTimeoutError.prototype, Object.getPrototypeOf(timeout));
        return true;
      }
    }
    return false;
  })();
  return timeoutErrorsLinked;
}

// ---------------------------------------------------------------------------------------------
// Constants and small helpers
// ---------------------------------------------------------------------------------------------

/** setTimeout fires at once for delays above 2^31-1 ms, so longer timeouts are capped (~24.8 days). */
const MAX_TIMER_SECONDS = 2_147_483;
const DEFAULT_TASK_TIMEOUT_SECONDS = 60;
/** The Step Functions payload quota (state input/output, task results, SendTaskSuccess output). */
const MAX_PAYLOAD_BYTES = 262_144;
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
const MAX_CLOSED_TOKENS = 100_000;
const HISTORY_SAVE_DELAY_MS = 100;
const TERMINAL: ReadonlySet<ExecutionStatus> = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

const STATE_MACHINE_ARN = /^arn:([^:]+):states:([^:]*):([^:]*):stateMachine:([^:]+)$/;
const EXECUTION_ARN = /^arn:([^:]+):states:([^:]*):([^:]*):execution:([^:]+):([^:]+)$/;
const LAMBDA_INVOKE = /^arn:[^:]+:states:::lambda:invoke$/;
const LAMBDA_FUNCTION_ARN = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/;
// AWS names: 1-80 chars, no whitespace, brackets, wildcards, the listed punctuation or control characters.
const INVALID_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]/u;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type LibraryJson = Parameters<TaskHandlers[string]>[0];
type LibraryExecution = ReturnType<StateMachine['run']>;
type LibraryEvent = LibraryExecution['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function containsString(value: unknown, needle: string): boolean {
  if (value === needle) return true;
  if (Array.isArray(value)) return value.some((item) => containsString(item, needle));
  if (isObject(value)) return Object.values(value).some((item) => containsString(item, needle));
  return false;
}

function mintToken(): string {
  return randomBytes(48).toString('base64url');
}

function timerMs(seconds: number): number {
  return Math.min(seconds, MAX_TIMER_SECONDS) * 1000;
}

function epochSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

function withoutUndefined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, value]) => value !== undefined));
}

/** `arn:aws:lambda:r:a:function:Name[:qualifier]`, `a:function:Name`, `Name:qualifier` → `Name`. */
function lambdaFunctionName(ref: string): string {
  const fromArn = /(?:^|:)function:([^:]+)/.exec(ref);
  if (fromArn?.[1]) return fromArn[1];
  return ref.split(':')[0] ?? ref;
}

/** What AWS puts in Cause for a Lambda function error. */
function lambdaFailure(err: unknown): TaskFailedError {
  const errorType = err instanceof Error && err.name ? err.name : 'Error';
  const errorMessage = err instanceof Error ? err.message : String(err);
  return new TaskFailedError(errorType, JSON.stringify({ errorType, errorMessage }));
}

/** A task result as it comes back through JSON, refused (like AWS) above the payload quota. */
function taskResult(value: unknown): Json {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) {
    throw new TerminalTaskError(
      'States.DataLimitExceeded',
      'The state/task returned a result with a size exceeding the maximum number of bytes service limit.',
    );
  }
  return JSON.parse(text) as Json;
}

function positiveInteger(value: Json | undefined, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TerminalTaskError(
      'States.Runtime',
      `${field} must resolve to a positive integer, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Definition preparation
// ---------------------------------------------------------------------------------------------

type TaskTarget =
  | { kind: 'lambda-invoke' }
  | { kind: 'lambda-function'; functionName: string }
  | { kind: 'integration'; resource: string };

interface TaskInfo {
  stateName: string;
  resource: string;
  callback: boolean;
  target: TaskTarget;
  timeoutSeconds?: number;
  heartbeatSeconds?: number;
  /** Parameters were wrapped to evaluate TimeoutSecondsPath/HeartbeatSecondsPath (see prepareTask). */
  wrapped: boolean;
}

interface PreparedDefinition {
  definition: JsonObject;
  tasks: Map<string, TaskInfo>;
  /** `$$.BatonState.<key>` objects standing in for `$$.State` (rewritten per state). */
  stateContext: Record<string, unknown>;
}

const WRAP = {
  params: '__batonParameters',
  input: '__batonInput',
  timeout: '__batonTimeoutSeconds',
  heartbeat: '__batonHeartbeatSeconds',
} as const;
const NESTED_MACHINE_FIELDS = new Set(['Iterator', 'ItemProcessor', 'Branches']);
const LITERAL_FIELDS = new Set(['Result', 'Comment']);

function invalidDefinition(message: string, cause?: unknown): SfnServiceError {
  return new SfnServiceError('InvalidDefinition', message, { cause });
}

function isPathField(key: string): boolean {
  return key.endsWith('.$') || key.endsWith('Path') || key === 'Variable';
}

/**
 * The library rebuilds the Context Object for every Map iteration and Parallel branch with
 * Execution.Input = the iteration's input and StartTime = now, and has no State object at all.
 * References to those are pointed at context entries we control instead.
 */
function rewriteContextReferences(expression: string, stateKey: string): string {
  return expression
    .replace(
      /\$\$\.Execution\.(Input|StartTime)(?![\w$])/g,
      (_m, field: string) => `$$.BatonExecution.${field}`,
    )
    .replace(
      /\$\$\.State\.(Name|EnteredTime)(?![\w$])/g,
      (_m, field: string) => `$$.BatonState.${stateKey}.${field}`,
    );
}

function rewritePaths(key: string, value: Json, stateKey: string): Json {
  if (typeof value === 'string') return isPathField(key) ? rewriteContextReferences(value, stateKey) : value;
  if (Array.isArray(value)) return value.map((item) => rewritePaths(key, item, stateKey));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewritePaths(k, v, stateKey)]));
  }
  return value;
}

/** In AWS, ErrorEquals "States.Timeout" also matches heartbeat timeouts. */
function matchHeartbeatTimeouts(state: JsonObject): void {
  for (const field of ['Retry', 'Catch']) {
    const rules = state[field];
    if (!Array.isArray(rules)) continue;
    for (const rule of rules) {
      const errors = isObject(rule) ? rule.ErrorEquals : undefined;
      if (
        Array.isArray(errors) &&
        errors.includes('States.Timeout') &&
        !errors.includes('States.HeartbeatTimeout')
      ) {
        errors.push('States.HeartbeatTimeout');
      }
    }
  }
}

function rejectUnsupported(scope: JsonObject, where: string): void {
  if (scope.QueryLanguage === 'JSONata') {
    throw invalidDefinition(`${where}: QueryLanguage JSONata is not supported by the local emulator`);
  }
  for (const field of ['Assign', 'ItemReader', 'ItemBatcher', 'ResultWriter']) {
    if (field in scope) throw invalidDefinition(`${where}: ${field} is not supported by the local emulator`);
  }
}

function prepareTask(name: string, state: JsonObject): TaskInfo {
  const resource = String(state.Resource);
  const callback = resource.endsWith('.waitForTaskToken');
  const base = callback ? resource.slice(0, -'.waitForTaskToken'.length) : resource;
  const functionArn = LAMBDA_FUNCTION_ARN.exec(base);
  const target: TaskTarget = LAMBDA_INVOKE.test(base)
    ? { kind: 'lambda-invoke' }
    : functionArn?.[1]
      ? { kind: 'lambda-function', functionName: functionArn[1] }
      : { kind: 'integration', resource };

  const info: TaskInfo = { stateName: name, resource, callback, target, wrapped: false };
  if (typeof state.TimeoutSeconds === 'number') info.timeoutSeconds = state.TimeoutSeconds;
  if (typeof state.HeartbeatSeconds === 'number') info.heartbeatSeconds = state.HeartbeatSeconds;

  // The library evaluates TimeoutSecondsPath against the task's Parameters output (not the state
  // input), overflows setTimeout past ~24.8 days and cannot tell us when it fires, so we enforce
  // task timeouts ourselves. Dynamic values reach us through extra Parameters fields, which the
  // library's own JSONPath evaluates against the effective input.
  const timeoutPath = typeof state.TimeoutSecondsPath === 'string' ? state.TimeoutSecondsPath : undefined;
  const heartbeatPath =
    typeof state.HeartbeatSecondsPath === 'string' ? state.HeartbeatSecondsPath : undefined;
  if (
    (timeoutPath && info.timeoutSeconds === undefined) ||
    (heartbeatPath && info.heartbeatSeconds === undefined)
  ) {
    const wrapper: JsonObject =
      state.Parameters !== undefined ? { [WRAP.params]: state.Parameters } : { [`${WRAP.input}.$`]: '$' };
    if (timeoutPath && info.timeoutSeconds === undefined) wrapper[`${WRAP.timeout}.$`] = timeoutPath;
    if (heartbeatPath && info.heartbeatSeconds === undefined) wrapper[`${WRAP.heartbeat}.$`] = heartbeatPath;
    state.Parameters = wrapper;
    info.wrapped = true;
  }
  state.TimeoutSeconds = MAX_TIMER_SECONDS;
  delete state.TimeoutSecondsPath;
  delete state.HeartbeatSeconds;
  delete state.HeartbeatSecondsPath;
  return info;
}

function prepareDefinition(source: object): PreparedDefinition {
  const definition = structuredClone(source) as JsonObject;
  const tasks = new Map<string, TaskInfo>();
  const stateContext: Record<string, unknown> = {};
  let stateCount = 0;

  const visitMachine = (machine: Json | undefined, where: string): void => {
    if (!isObject(machine) || !isObject(machine.States)) {
      throw invalidDefinition(`${where}: States is missing`);
    }
    rejectUnsupported(machine, where);
    for (const [name, state] of Object.entries(machine.States)) {
      if (!isObject(state)) throw invalidDefinition(`State ${name} is not an object`);
      rejectUnsupported(state, `State ${name}`);
      const stateKey = `s${stateCount++}`;
      const stateObject: Record<string, unknown> = { Name: name };
      Object.defineProperty(stateObject, 'EnteredTime', {
        enumerable: true,
        get: () => new Date().toISOString(),
      });
      stateContext[stateKey] = stateObject;

      for (const [field, value] of Object.entries(state)) {
        if (!NESTED_MACHINE_FIELDS.has(field) && !LITERAL_FIELDS.has(field)) {
          state[field] = rewritePaths(field, value, stateKey);
        }
      }
      matchHeartbeatTimeouts(state);

      if (state.Type === 'Task') {
        if (tasks.has(name)) throw invalidDefinition(`Task state name ${name} is used more than once`);
        tasks.set(name, prepareTask(name, state));
      } else if (state.Type === 'Map') {
        visitMachine(state.ItemProcessor ?? state.Iterator, `Map state ${name}`);
      } else if (state.Type === 'Parallel') {
        const branches = Array.isArray(state.Branches) ? state.Branches : [];
        for (const branch of branches) visitMachine(branch, `Parallel state ${name}`);
      } else if (state.Type === 'Wait' && typeof state.Seconds === 'number') {
        state.Seconds = Math.min(state.Seconds, MAX_TIMER_SECONDS);
      }
    }
  };

  visitMachine(definition, 'State machine');
  if (typeof definition.TimeoutSeconds === 'number') {
    definition.TimeoutSeconds = Math.min(definition.TimeoutSeconds, MAX_TIMER_SECONDS);
  }
  return { definition, tasks, stateContext };
}

// ---------------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------------

/** One JSON file per execution, replaced atomically (write a temp file, then rename). */
class ExecutionStore {
  readonly dir: string;
  private readonly chains = new Map<string, { tail: Promise<void>; queued: Promise<void> | undefined }>();

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'executions');
    mkdirSync(this.dir, { recursive: true });
  }

  loadAll(log: (line: Record<string, unknown>) => void): ExecutionRecord[] {
    const records: ExecutionRecord[] = [];
    for (const file of readdirSync(this.dir)) {
      const full = path.join(this.dir, file);
      if (file.endsWith('.tmp')) {
        unlinkSync(full); // a write interrupted by a crash; the previous file is intact
        continue;
      }
      if (!file.endsWith('.json')) continue;
      try {
        const record = JSON.parse(readFileSync(full, 'utf8')) as ExecutionRecord;
        if (typeof record.executionArn !== 'string' || typeof record.status !== 'string') {
          throw new Error('not an execution record');
        }
        record.history ??= [];
        record.redriveCount ??= 0;
        records.push(record);
      } catch (err) {
        log({ level: 'warn', msg: 'skipping unreadable execution file', file: full, error: String(err) });
      }
    }
    return records;
  }

  /** Coalesces: while one write runs, at most one more is queued, and it writes the latest state. */
  save(record: ExecutionRecord): Promise<void> {
    const key = record.executionArn;
    let chain = this.chains.get(key);
    if (!chain) {
      chain = { tail: Promise.resolve(), queued: undefined };
      this.chains.set(key, chain);
    }
    if (chain.queued) return chain.queued;
    const current = chain;
    const write = current.tail.then(async () => {
      current.queued = undefined;
      await this.write(record);
    });
    current.queued = write;
    current.tail = write.catch(() => undefined);
    return write;
  }

  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()].map((chain) => chain.tail));
  }

  private async write(record: ExecutionRecord): Promise<void> {
    const [, , , , smName = 'unknown'] = EXECUTION_ARN.exec(record.executionArn) ?? [];
    const file = path.join(this.dir, `${encodeURIComponent(smName)}~${encodeURIComponent(record.name)}.json`);
    const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temp, `${JSON.stringify(record)}\n`);
    await rename(temp, file);
  }
}

// ---------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------

interface RegisteredMachine {
  arn: string;
  name: string;
  roleArn: string;
  runnable: StateMachine;
  tasks: Map<string, TaskInfo>;
  stateContext: Record<string, unknown>;
}

interface ActiveRun {
  record: ExecutionRecord;
  machine: RegisteredMachine;
  abort: () => void;
  /** Set by StopExecution: the run ends ABORTED with this error/cause. */
  stopping?: { error?: string; cause?: string };
  /** Set by close(): the run is dropped but stays RUNNING on disk, to be resumed. */
  interrupted: boolean;
  ended: boolean;
  /** `$$.Task.Token` minted while evaluating a state's Parameters, claimed by its task handler. */
  tokenSlot?: string;
  tokens: Set<string>;
  /** Aborted when the run ends, so tasks still waiting on a Lambda stop waiting. */
  halt: AbortController;
  saveTimer?: NodeJS.Timeout;
  done: Promise<void>;
}

interface PendingTask {
  token: string;
  run: ActiveRun;
  stateName: string;
  heartbeatSeconds?: number;
  heartbeatTimer?: NodeJS.Timeout;
  timeoutTimer?: NodeJS.Timeout;
  resolve: (output: Json) => void;
  reject: (error: Error) => void;
}

export class LocalStepFunctions {
  private readonly invokeLambda: LocalLambdaInvoker;
  private readonly log: (line: Record<string, unknown>) => void;
  private readonly defaultTaskTimeoutSeconds: number;
  private readonly integrations: Record<string, LocalServiceIntegration>;
  private readonly store: ExecutionStore;
  private readonly machines = new Map<string, RegisteredMachine>();
  private readonly records = new Map<string, ExecutionRecord>();
  private readonly active = new Map<string, ActiveRun>();
  private readonly pending = new Map<string, PendingTask>();
  private readonly closedTokens = new Set<string>();
  private readonly servers = new Set<Server>();
  private closed = false;
  private warnedUnlinkedTimeouts = false;

  constructor(opts: LocalStepFunctionsOptions) {
    this.invokeLambda = opts.invokeLambda;
    this.log = opts.log ?? (() => undefined);
    this.defaultTaskTimeoutSeconds = opts.defaultTaskTimeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS;
    this.integrations = opts.serviceIntegrations ?? {};
    this.store = new ExecutionStore(opts.dataDir);
    for (const record of this.store.loadAll(this.log)) this.records.set(record.executionArn, record);
  }

  /**
   * Registers (or replaces) a state machine. The definition is validated as aws-local-stepfunctions
   * validates it; unsupported features (JSONata, variables, distributed Map readers) are refused.
   */
  registerStateMachine(arn: string, definition: object, options: { roleArn?: string } = {}): void {
    const match = STATE_MACHINE_ARN.exec(arn);
    if (!match) throw new SfnServiceError('InvalidArn', `Invalid Arn: '${arn}'`);
    const [, partition, , account, name = ''] = match;
    try {
      new StateMachine(definition as StateMachineDefinition);
    } catch (err) {
      throw invalidDefinition(err instanceof Error ? err.message : String(err), err);
    }
    const prepared = prepareDefinition(definition);
    const runnable = new StateMachine(prepared.definition as unknown as StateMachineDefinition, {
      validationOptions: { noValidate: true },
    });
    this.machines.set(arn, {
      arn,
      name,
      roleArn: options.roleArn ?? `arn:${partition}:iam::${account}:role/${name}-local`,
      runnable,
      tasks: prepared.tasks,
      stateContext: prepared.stateContext,
    });
  }

  /** One AWSStepFunctions JSON-protocol operation. Throws SfnServiceError on service errors. */
  async handle(operation: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (operation) {
      case 'StartExecution':
        return this.startExecution(body);
      case 'DescribeExecution':
        return describeExecution(this.getRecord(requiredString(body, 'executionArn')));
      case 'ListExecutions':
        return this.listExecutions(body);
      case 'StopExecution':
        return this.stopExecution(body);
      case 'GetExecutionHistory':
        return this.getExecutionHistory(body);
      case 'SendTaskSuccess':
        return this.sendTaskSuccess(body);
      case 'SendTaskFailure':
        return this.sendTaskFailure(body);
      case 'SendTaskHeartbeat':
        return this.sendTaskHeartbeat(body);
      default:
        throw new SfnServiceError(
          'UnknownOperationException',
          `Operation ${operation} is not supported locally`,
        );
    }
  }

  /** HTTP server speaking the awsJson1_0 protocol of the AWS SDK v3 SFN client. */
  async listen(port: number, host = '127.0.0.1'): Promise<{ url: string; close(): Promise<void> }> {
    const server = createServer((req, res) => {
      void this.serveHttp(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.add(server);
    const { port: actualPort } = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    return { url, close: () => this.closeServer(server) };
  }

  /**
   * Re-starts executions that were RUNNING when the process last stopped: same executionArn, same
   * input, run again from the start (their history gets an ExecutionRedriven event). Executions
   * whose state machine is not registered are skipped. Returns the arns resumed.
   */
  async resumeInterrupted(): Promise<string[]> {
    this.assertOpen();
    await this.ensureTimeoutErrorsLinked();
    const resumed: string[] = [];
    for (const record of this.records.values()) {
      if (record.status !== 'RUNNING' || this.active.has(record.executionArn)) continue;
      const machine = this.machines.get(record.stateMachineArn);
      if (!machine) {
        this.log({
          level: 'warn',
          msg: 'cannot resume: state machine not registered',
          executionArn: record.executionArn,
        });
        continue;
      }
      record.redriveCount += 1;
      pushEvent(record, 'ExecutionRedriven', {
        executionRedrivenEventDetails: { redriveCount: record.redriveCount },
      });
      await this.store.save(record);
      this.launch(record, machine);
      resumed.push(record.executionArn);
      this.log({ level: 'info', msg: 'execution resumed from the start', executionArn: record.executionArn });
    }
    return resumed;
  }

  /** Resolves when every running execution has ended and its file is written (for tests). */
  async idle(): Promise<void> {
    while (this.active.size > 0) {
      await Promise.allSettled([...this.active.values()].map((run) => run.done));
    }
    await this.store.flush();
  }

  /**
   * Stops the HTTP servers and drops running executions without ending them: they stay RUNNING
   * on disk, like after a crash, and `resumeInterrupted()` of the next instance re-runs them.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.servers].map((server) => this.closeServer(server)));
    for (const run of this.active.values()) {
      run.interrupted = true;
      run.abort();
      this.releaseTokens(run);
    }
    await this.idle();
  }

  // -------------------------------------------------------------------------------------------
  // Operations
  // -------------------------------------------------------------------------------------------

  private async startExecution(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.assertOpen();
    const stateMachineArn = requiredString(body, 'stateMachineArn');
    const smMatch = STATE_MACHINE_ARN.exec(stateMachineArn);
    if (!smMatch) throw new SfnServiceError('InvalidArn', `Invalid Arn: '${stateMachineArn}'`);
    const machine = this.machines.get(stateMachineArn);
    if (!machine) {
      throw new SfnServiceError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    }

    const name = optionalString(body, 'name') ?? randomUUID();
    if (name.length > 80 || INVALID_NAME_CHARS.test(name)) {
      throw new SfnServiceError('InvalidName', `Invalid Name: '${name}'`);
    }
    const input = optionalString(body, 'input') ?? '{}';
    if (Buffer.byteLength(input) > MAX_PAYLOAD_BYTES) {
      throw new SfnServiceError(
        'ValidationException',
        `Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_PAYLOAD_BYTES}`,
      );
    }
    try {
      JSON.parse(input);
    } catch (err) {
      throw new SfnServiceError(
        'InvalidExecutionInput',
        'Invalid execution input: the input is not valid JSON',
        { cause: err },
      );
    }
    await this.ensureTimeoutErrorsLinked();

    const [, partition, region, account] = smMatch;
    const executionArn = `arn:${partition}:states:${region}:${account}:execution:${machine.name}:${name}`;
    const existing = this.records.get(executionArn);
    if (existing) {
      // Standard workflows: same name and input while RUNNING is an idempotent retry of the call.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: epochSeconds(existing.startDate) };
      }
      throw new SfnServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }

    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn,
      name,
      status: 'RUNNING',
      input,
      startDate: new Date().toISOString(),
      redriveCount: 0,
      history: [],
    };
    pushEvent(record, 'ExecutionStarted', {
      executionStartedEventDetails: { input, inputDetails: { truncated: false }, roleArn: machine.roleArn },
    });
    this.records.set(executionArn, record);
    await this.store.save(record);
    this.launch(record, machine);
    this.log({ level: 'info', msg: 'execution started', executionArn });
    return { executionArn, startDate: epochSeconds(record.startDate) };
  }

  private listExecutions(body: Record<string, unknown>): Record<string, unknown> {
    const stateMachineArn = requiredString(body, 'stateMachineArn');
    if (!STATE_MACHINE_ARN.test(stateMachineArn)) {
      throw new SfnServiceError('InvalidArn', `Invalid Arn: '${stateMachineArn}'`);
    }
    const statusFilter = optionalString(body, 'statusFilter');
    if (
      statusFilter !== undefined &&
      statusFilter !== 'RUNNING' &&
      !TERMINAL.has(statusFilter as ExecutionStatus)
    ) {
      throw new SfnServiceError(
        'ValidationException',
        `Value '${statusFilter}' at 'statusFilter' failed to satisfy constraint`,
      );
    }
    const all = [...this.records.values()].filter((record) => record.stateMachineArn === stateMachineArn);
    if (all.length === 0 && !this.machines.has(stateMachineArn)) {
      throw new SfnServiceError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    }
    const matching = all
      .filter((record) => statusFilter === undefined || record.status === statusFilter)
      .sort((a, b) => b.startDate.localeCompare(a.startDate) || a.name.localeCompare(b.name));
    const { page, nextToken } = paginate(matching, body, 100);
    return withoutUndefined({
      executions: page.map((record) =>
        withoutUndefined({
          executionArn: record.executionArn,
          stateMachineArn: record.stateMachineArn,
          name: record.name,
          status: record.status,
          startDate: epochSeconds(record.startDate),
          stopDate: record.stopDate ? epochSeconds(record.stopDate) : undefined,
          redriveCount: record.redriveCount,
        }),
      ),
      nextToken,
    });
  }

  private async stopExecution(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const record = this.getRecord(requiredString(body, 'executionArn'));
    const error = optionalString(body, 'error');
    const cause = optionalString(body, 'cause');
    if (record.status === 'RUNNING') {
      const run = this.active.get(record.executionArn);
      if (run) {
        run.stopping = { error, cause };
        run.abort();
        this.releaseTokens(run);
        await run.done;
      } else {
        // RUNNING on disk, left by a process that stopped, and not resumed.
        this.finish(record, { status: 'ABORTED', error, cause });
        await this.store.save(record);
      }
    }
    return { stopDate: epochSeconds(record.stopDate ?? new Date().toISOString()) };
  }

  private getExecutionHistory(body: Record<string, unknown>): Record<string, unknown> {
    const record = this.getRecord(requiredString(body, 'executionArn'));
    const events = body.reverseOrder === true ? [...record.history].reverse() : record.history;
    const { page, nextToken } = paginate(events, body, 100);
    return withoutUndefined({
      events: page.map((event) => ({ ...event, timestamp: epochSeconds(event.timestamp) })),
      nextToken,
    });
  }

  private sendTaskSuccess(body: Record<string, unknown>): Record<string, unknown> {
    const token = requiredString(body, 'taskToken');
    const output = requiredString(body, 'output');
    if (Buffer.byteLength(output) > MAX_PAYLOAD_BYTES) {
      throw new SfnServiceError(
        'ValidationException',
        `Value at 'output' failed to satisfy constraint: Member must have length less than or equal to ${MAX_PAYLOAD_BYTES}`,
      );
    }
    const task = this.pendingTask(token);
    let parsed: Json;
    try {
      parsed = JSON.parse(output) as Json;
    } catch (err) {
      throw new SfnServiceError('InvalidOutput', 'Invalid output: the output is not valid JSON', {
        cause: err,
      });
    }
    this.settleTask(task, { output: parsed });
    return {};
  }

  private sendTaskFailure(body: Record<string, unknown>): Record<string, unknown> {
    const token = requiredString(body, 'taskToken');
    const error = optionalString(body, 'error') ?? '';
    const cause = optionalString(body, 'cause') ?? '';
    if (error.length > 256 || cause.length > 32_768) {
      throw new SfnServiceError(
        'ValidationException',
        'error must be at most 256 and cause at most 32768 characters',
      );
    }
    this.settleTask(this.pendingTask(token), { error: new TaskFailedError(error, cause) });
    return {};
  }

  private sendTaskHeartbeat(body: Record<string, unknown>): Record<string, unknown> {
    const task = this.pendingTask(requiredString(body, 'taskToken'));
    this.armHeartbeat(task);
    return {};
  }

  // -------------------------------------------------------------------------------------------
  // Running executions
  // -------------------------------------------------------------------------------------------

  private launch(record: ExecutionRecord, machine: RegisteredMachine): void {
    const run: ActiveRun = {
      record,
      machine,
      abort: () => undefined,
      interrupted: false,
      ended: false,
      tokens: new Set(),
      halt: new AbortController(),
      done: Promise.resolve(),
    };
    this.active.set(record.executionArn, run);
    run.done = this.runExecution(run)
      .catch((err: unknown) => {
        this.log({
          level: 'error',
          msg: 'execution runner failed',
          executionArn: record.executionArn,
          error: String(err),
        });
      })
      .finally(() => {
        this.active.delete(record.executionArn);
      });
  }

  private async runExecution(run: ActiveRun): Promise<void> {
    const { record, machine } = run;
    const handlers: TaskHandlers = {};
    for (const info of machine.tasks.values()) {
      handlers[info.stateName] = (input) => this.runTask(run, info, input as Json) as Promise<LibraryJson>;
    }
    const execution = machine.runnable.run(JSON.parse(record.input) as LibraryJson, {
      overrides: { taskResourceLocalHandlers: handlers },
      context: this.contextFor(run),
    });
    run.abort = execution.abort;
    const history = this.recordHistory(run, execution.eventLogs);

    let outcome: Outcome | undefined;
    try {
      const output = await execution.result;
      outcome = { status: 'SUCCEEDED', output: JSON.stringify(output ?? null) };
    } catch (err) {
      outcome = this.failureOutcome(run, err);
    } finally {
      run.ended = true;
      this.releaseTokens(run);
    }
    await history;
    clearTimeout(run.saveTimer);
    if (outcome) this.finish(record, outcome);
    await this.store.save(record);
    this.log({
      level: 'info',
      msg: 'execution ended',
      executionArn: record.executionArn,
      status: record.status,
    });
  }

  private failureOutcome(run: ActiveRun, err: unknown): Outcome | undefined {
    if (run.stopping) return { status: 'ABORTED', ...run.stopping };
    if (run.interrupted) return undefined;
    if (err instanceof ExecutionTimeoutError) {
      return {
        status: 'TIMED_OUT',
        error: 'States.Timeout',
        cause: 'The execution ran longer than its TimeoutSeconds',
      };
    }
    if (err instanceof ExecutionAbortedError) return { status: 'ABORTED' };
    const failure = err instanceof ExecutionError ? err.cause : err;
    if (failure instanceof Error) return { status: 'FAILED', error: failure.name, cause: failure.message };
    return { status: 'FAILED', error: 'States.Runtime', cause: String(failure) };
  }

  private finish(record: ExecutionRecord, outcome: Outcome): void {
    record.status = outcome.status;
    record.stopDate = new Date().toISOString();
    if (outcome.status === 'SUCCEEDED') {
      record.output = outcome.output;
      pushEvent(record, 'ExecutionSucceeded', {
        executionSucceededEventDetails: { output: outcome.output, outputDetails: { truncated: false } },
      });
      return;
    }
    if (outcome.error !== undefined) record.error = outcome.error;
    if (outcome.cause !== undefined) record.cause = outcome.cause;
    const details = withoutUndefined({ error: outcome.error, cause: outcome.cause });
    const [type, detailsKey] = TERMINAL_EVENTS[outcome.status];
    pushEvent(record, type, { [detailsKey]: details });
  }

  private contextFor(run: ActiveRun): RunOptions['context'] {
    const { record, machine } = run;
    const input = JSON.parse(record.input) as Json;
    // The library evaluates Parameters and calls the task handler in one synchronous stretch, so
    // a token minted here is claimed by the very task entry that referenced it (see claimToken).
    const task: Record<string, unknown> = {};
    Object.defineProperty(task, 'Token', {
      enumerable: true,
      get: () => {
        run.tokenSlot ??= mintToken();
        return run.tokenSlot;
      },
    });
    return {
      Execution: {
        Id: record.executionArn,
        Name: record.name,
        Input: input,
        StartTime: record.startDate,
        RoleArn: machine.roleArn,
        RedriveCount: record.redriveCount,
      },
      StateMachine: { Id: machine.arn, Name: machine.name },
      Task: task,
      BatonExecution: { Input: input, StartTime: record.startDate },
      BatonState: machine.stateContext,
    };
  }

  private async runTask(run: ActiveRun, info: TaskInfo, rawInput: Json): Promise<Json> {
    // Synchronous part first: the token minted for this entry must be claimed before anything else runs.
    const token = info.callback ? this.claimToken(run, info, rawInput) : undefined;
    const { parameters, timeoutSeconds, heartbeatSeconds } = this.unwrap(info, rawInput);
    // One macrotask, so that an abort or execution timeout fired meanwhile is seen before we invoke anything.
    await new Promise((resolve) => setImmediate(resolve));
    if (run.ended || run.stopping || run.interrupted) throw new ExecutionEndedError();

    if (token !== undefined) {
      return this.waitForCallback(run, info, token, parameters, timeoutSeconds, heartbeatSeconds);
    }
    let timer: NodeJS.Timeout | undefined;
    let onHalt: (() => void) | undefined;
    const interrupted = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StatesTimeoutError(`Task did not complete within TimeoutSeconds=${timeoutSeconds}`)),
        timerMs(timeoutSeconds),
      );
      onHalt = () => reject(new ExecutionEndedError());
      run.halt.signal.addEventListener('abort', onHalt, { once: true });
    });
    try {
      return await Promise.race([this.callTarget(info, parameters), interrupted]);
    } finally {
      clearTimeout(timer);
      if (onHalt) run.halt.signal.removeEventListener('abort', onHalt);
    }
  }

  private claimToken(run: ActiveRun, info: TaskInfo, input: Json): string {
    const minted = run.tokenSlot;
    run.tokenSlot = undefined;
    if (minted !== undefined && containsString(input, minted)) return minted;
    this.log({
      level: 'warn',
      msg: 'waitForTaskToken state does not pass $$.Task.Token in its Parameters; it can only time out',
      executionArn: run.record.executionArn,
      state: info.stateName,
    });
    return mintToken();
  }

  private unwrap(
    info: TaskInfo,
    input: Json,
  ): { parameters: Json; timeoutSeconds: number; heartbeatSeconds: number | undefined } {
    let parameters = input;
    let timeoutSeconds = info.timeoutSeconds;
    let heartbeatSeconds = info.heartbeatSeconds;
    if (info.wrapped && isObject(input)) {
      parameters = (WRAP.params in input ? input[WRAP.params] : input[WRAP.input]) ?? null;
      if (WRAP.timeout in input) timeoutSeconds = positiveInteger(input[WRAP.timeout], 'TimeoutSecondsPath');
      if (WRAP.heartbeat in input) {
        heartbeatSeconds = positiveInteger(input[WRAP.heartbeat], 'HeartbeatSecondsPath');
      }
    }
    return { parameters, timeoutSeconds: timeoutSeconds ?? this.defaultTaskTimeoutSeconds, heartbeatSeconds };
  }

  /** Invokes the task's target and returns the task result (before ResultSelector/ResultPath). */
  private async callTarget(info: TaskInfo, parameters: Json): Promise<Json> {
    const { target } = info;
    if (target.kind === 'lambda-function') {
      return taskResult(await this.invoke(target.functionName, parameters));
    }
    if (target.kind === 'integration') {
      const integration = this.integrations[target.resource];
      if (!integration) {
        throw new TerminalTaskError(
          'States.Runtime',
          `Resource ${target.resource} is not supported by the local emulator`,
        );
      }
      try {
        return taskResult(await integration(structuredClone(parameters)));
      } catch (err) {
        if (err instanceof TaskFailedError) throw err;
        throw new TaskFailedError(
          err instanceof Error ? err.name : 'Error',
          err instanceof Error ? err.message : String(err),
        );
      }
    }
    const { functionName, payload, invocationType } = lambdaInvokeParameters(info, parameters);
    if (invocationType === 'Event') {
      this.invoke(functionName, payload).catch((err: unknown) => {
        this.log({
          level: 'warn',
          msg: 'asynchronous Lambda invocation failed',
          functionName,
          error: String(err),
        });
      });
      return { Payload: '', StatusCode: 202 };
    }
    const result = await this.invoke(functionName, payload);
    return { ExecutedVersion: '$LATEST', Payload: taskResult(result), StatusCode: 200 };
  }

  private async invoke(functionName: string, payload: Json): Promise<unknown> {
    try {
      return await this.invokeLambda(lambdaFunctionName(functionName), structuredClone(payload));
    } catch (err) {
      throw lambdaFailure(err);
    }
  }

  private waitForCallback(
    run: ActiveRun,
    info: TaskInfo,
    token: string,
    parameters: Json,
    timeoutSeconds: number,
    heartbeatSeconds: number | undefined,
  ): Promise<Json> {
    return new Promise<Json>((resolve, reject) => {
      const task: PendingTask = { token, run, stateName: info.stateName, heartbeatSeconds, resolve, reject };
      this.pending.set(token, task);
      run.tokens.add(token);
      task.timeoutTimer = setTimeout(() => {
        this.settleTask(task, {
          error: new StatesTimeoutError(`Task did not complete within TimeoutSeconds=${timeoutSeconds}`),
        });
      }, timerMs(timeoutSeconds));
      this.armHeartbeat(task);

      // The target is invoked only to hand the token over; its result is ignored, but its failure
      // fails the task (as in AWS). It may well call SendTaskSuccess before it returns.
      this.handOverToken(info, parameters).catch((err: unknown) => {
        if (this.pending.get(token) === task) {
          this.settleTask(task, { error: err instanceof Error ? err : lambdaFailure(err) });
        }
      });
    });
  }

  private async handOverToken(info: TaskInfo, parameters: Json): Promise<void> {
    if (info.target.kind !== 'lambda-invoke') {
      await this.callTarget(info, parameters);
      return;
    }
    const { functionName, payload, invocationType } = lambdaInvokeParameters(info, parameters);
    const call = this.invoke(functionName, payload);
    if (invocationType === 'Event') {
      call.catch((err: unknown) => {
        this.log({
          level: 'warn',
          msg: 'asynchronous Lambda invocation failed',
          functionName,
          error: String(err),
        });
      });
      return;
    }
    await call;
  }

  private armHeartbeat(task: PendingTask): void {
    if (task.heartbeatSeconds === undefined) return;
    clearTimeout(task.heartbeatTimer);
    const seconds = task.heartbeatSeconds;
    task.heartbeatTimer = setTimeout(() => {
      this.settleTask(task, {
        error: new HeartbeatTimeoutError(`No heartbeat received within HeartbeatSeconds=${seconds}`),
      });
    }, timerMs(seconds));
  }

  private pendingTask(token: string): PendingTask {
    const task = this.pending.get(token);
    if (task) return task;
    if (this.closedTokens.has(token)) {
      throw new SfnServiceError('TaskTimedOut', 'Task Timed Out: the task is already closed');
    }
    throw new SfnServiceError('InvalidToken', 'Invalid Token');
  }

  private settleTask(task: PendingTask, outcome: { output: Json } | { error: Error }): void {
    if (this.pending.get(task.token) !== task) return;
    this.pending.delete(task.token);
    task.run.tokens.delete(task.token);
    this.closedTokens.add(task.token);
    if (this.closedTokens.size > MAX_CLOSED_TOKENS) {
      const oldest = this.closedTokens.values().next().value;
      if (oldest !== undefined) this.closedTokens.delete(oldest);
    }
    clearTimeout(task.timeoutTimer);
    clearTimeout(task.heartbeatTimer);
    if ('output' in outcome) task.resolve(outcome.output);
    else task.reject(outcome.error);
  }

  /** Ends everything the run still waits on: callback tokens and in-flight Lambda calls. */
  private releaseTokens(run: ActiveRun): void {
    run.halt.abort();
    for (const token of [...run.tokens]) {
      const task = this.pending.get(token);
      if (task) this.settleTask(task, { error: new ExecutionEndedError() });
    }
  }

  private async recordHistory(run: ActiveRun, events: AsyncGenerator<LibraryEvent>): Promise<void> {
    try {
      for await (const event of events) {
        const entry = historyEntry(event, run.machine.tasks);
        if (!entry) continue;
        pushEvent(run.record, entry.type, entry.details, event.timestamp);
        run.saveTimer ??= setTimeout(() => {
          run.saveTimer = undefined;
          this.store.save(run.record).catch((err: unknown) => {
            this.log({
              level: 'error',
              msg: 'saving execution failed',
              executionArn: run.record.executionArn,
              error: String(err),
            });
          });
        }, HISTORY_SAVE_DELAY_MS);
      }
    } catch (err) {
      this.log({
        level: 'warn',
        msg: 'execution event log failed',
        executionArn: run.record.executionArn,
        error: String(err),
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing
  // -------------------------------------------------------------------------------------------

  private async ensureTimeoutErrorsLinked(): Promise<void> {
    if (!(await linkTimeoutErrors()) && !this.warnedUnlinkedTimeouts) {
      this.warnedUnlinkedTimeouts = true;
      this.log({
        level: 'warn',
        msg: 'could not find the library StatesTimeoutError: States.TaskFailed will also match task timeouts',
      });
    }
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new SfnServiceError('ServiceUnavailable', 'The local Step Functions emulator is closed');
    }
  }

  private getRecord(executionArn: string): ExecutionRecord {
    if (!EXECUTION_ARN.test(executionArn)) {
      throw new SfnServiceError('InvalidArn', `Invalid Arn: '${executionArn}'`);
    }
    const record = this.records.get(executionArn);
    if (!record) {
      throw new SfnServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    }
    return record;
  }

  private async serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: Record<string, unknown>): void => {
      const data = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(data),
        'x-amzn-requestid': randomUUID(),
      });
      res.end(data);
    };
    try {
      const target = req.headers['x-amz-target'];
      const prefix = 'AWSStepFunctions.';
      if (req.method !== 'POST' || typeof target !== 'string' || !target.startsWith(prefix)) {
        throw new SfnServiceError(
          'UnknownOperationException',
          'Expected POST with X-Amz-Target: AWSStepFunctions.<Operation>',
        );
      }
      const text = await readBody(req);
      let body: unknown;
      try {
        body = text.trim() === '' ? {} : JSON.parse(text);
      } catch (err) {
        throw new SfnServiceError('SerializationException', 'The request body is not valid JSON', {
          cause: err,
        });
      }
      if (!isObject(body)) {
        throw new SfnServiceError('SerializationException', 'The request body must be a JSON object');
      }
      send(200, await this.handle(target.slice(prefix.length), body));
    } catch (err) {
      if (err instanceof SfnServiceError) {
        send(400, { __type: err.name, message: err.message });
        return;
      }
      this.log({
        level: 'error',
        msg: 'request failed',
        error: err instanceof Error ? err.stack : String(err),
      });
      send(500, {
        __type: 'InternalFailure',
        message: 'Internal error in the local Step Functions emulator',
      });
    }
  }

  private closeServer(server: Server): Promise<void> {
    if (!this.servers.delete(server)) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Module helpers (need no emulator state)
// ---------------------------------------------------------------------------------------------

const TERMINAL_EVENTS = {
  FAILED: ['ExecutionFailed', 'executionFailedEventDetails'],
  ABORTED: ['ExecutionAborted', 'executionAbortedEventDetails'],
  TIMED_OUT: ['ExecutionTimedOut', 'executionTimedOutEventDetails'],
} as const;

type Outcome =
  | { status: 'SUCCEEDED'; output: string }
  | { status: 'FAILED' | 'ABORTED' | 'TIMED_OUT'; error?: string; cause?: string };

function pushEvent(
  record: ExecutionRecord,
  type: string,
  details: Record<string, unknown>,
  timestampMs = Date.now(),
): void {
  const id = record.history.length + 1;
  record.history.push({
    id,
    previousEventId: id - 1,
    timestamp: new Date(timestampMs).toISOString(),
    type,
    ...details,
  });
}

function jsonText(value: unknown): string {
  return JSON.stringify(value ?? null);
}

function errorText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

/** Maps a library event onto an SFN history event type and details; events AWS has no match for are dropped. */
function historyEntry(
  event: LibraryEvent,
  tasks: Map<string, TaskInfo>,
): { type: string; details: Record<string, unknown> } | undefined {
  switch (event.type) {
    case 'StateEntered':
      return {
        type: `${event.state.type}StateEntered`,
        details: { stateEnteredEventDetails: { name: event.state.name, input: jsonText(event.state.input) } },
      };
    case 'StateExited':
      return {
        type: `${event.state.type}StateExited`,
        details: {
          stateExitedEventDetails: { name: event.state.name, output: jsonText(event.state.output) },
        },
      };
    case 'StateFailed': {
      const error = event.Error;
      const cause = errorText(event.Cause);
      if (event.state.type === 'Task') {
        const resource = tasks.get(event.state.name)?.resource ?? '';
        const [resourceType, resourceName] = resourceParts(resource);
        const timedOut = error === 'States.Timeout' || error === 'States.HeartbeatTimeout';
        return {
          type: timedOut ? 'TaskTimedOut' : 'TaskFailed',
          details: {
            [timedOut ? 'taskTimedOutEventDetails' : 'taskFailedEventDetails']: {
              resourceType,
              resource: resourceName,
              error,
              cause,
            },
          },
        };
      }
      if (event.state.type === 'Map' || event.state.type === 'Parallel') {
        return { type: `${event.state.type}StateFailed`, details: {} };
      }
      return undefined;
    }
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed': {
      const key = `mapIteration${event.type.slice('MapIteration'.length)}EventDetails`;
      return { type: event.type, details: { [key]: { name: event.parentState.name, index: event.index } } };
    }
    default:
      return undefined;
  }
}

function resourceParts(resource: string): [string, string] {
  const service = /^arn:[^:]+:states:::([^:]+):(.+)$/.exec(resource);
  if (service?.[1] && service[2]) return [service[1], service[2]];
  return ['lambda', 'invoke'];
}

function lambdaInvokeParameters(
  info: TaskInfo,
  parameters: Json,
): { functionName: string; payload: Json; invocationType: string | undefined } {
  if (!isObject(parameters) || typeof parameters.FunctionName !== 'string') {
    throw new TerminalTaskError(
      'States.Runtime',
      `State ${info.stateName}: lambda:invoke Parameters need a FunctionName`,
    );
  }
  const invocationType =
    typeof parameters.InvocationType === 'string' ? parameters.InvocationType : undefined;
  return { functionName: parameters.FunctionName, payload: parameters.Payload ?? {}, invocationType };
}

function requiredString(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value !== 'string' || value === '') {
    throw new SfnServiceError(
      'ValidationException',
      `1 validation error detected: Value at '${key}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new SfnServiceError(
      'ValidationException',
      `1 validation error detected: Value at '${key}' must be a string`,
    );
  }
  return value;
}

function paginate<T>(
  items: T[],
  body: Record<string, unknown>,
  defaultSize: number,
): { page: T[]; nextToken?: string } {
  const maxResults =
    typeof body.maxResults === 'number' && body.maxResults > 0
      ? Math.min(body.maxResults, 1000)
      : defaultSize;
  let offset = 0;
  if (typeof body.nextToken === 'string') {
    offset = Number.parseInt(Buffer.from(body.nextToken, 'base64url').toString('utf8'), 10);
    if (!Number.isInteger(offset) || offset < 0) {
      throw new SfnServiceError('ValidationException', 'Invalid nextToken');
    }
  }
  const page = items.slice(offset, offset + maxResults);
  const next = offset + maxResults;
  return next < items.length
    ? { page, nextToken: Buffer.from(String(next)).toString('base64url') }
    : { page };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_REQUEST_BYTES) throw new SfnServiceError('ValidationException', 'Request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeExecution(record: ExecutionRecord): Record<string, unknown> {
  return withoutUndefined({
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: epochSeconds(record.startDate),
    stopDate: record.stopDate ? epochSeconds(record.stopDate) : undefined,
    input: record.input,
    inputDetails: { included: true },
    output: record.output,
    outputDetails: record.output !== undefined ? { included: true } : undefined,
    error: record.error,
    cause: record.cause,
    redriveCount: record.redriveCount,
  });
}
