/**
 * The executor: runs executions of registered state machines on aws-local-stepfunctions. It
 * builds each run's Context Object, handles every Task state (Lambda calls, service
 * integrations, callback tasks through `TaskTokens`), enforces task timeouts, hands Distributed
 * Map states to their Map Runs (distributed-map.ts), records the library's event log as SFN
 * history, and saves the record through the `ExecutionStore`.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  type StateMachine,
} from 'aws-local-stepfunctions';
import type { EngineClock, EngineTimer } from './clock.js';
import { lambdaFunctionName, lambdaInvokeParameters, type TaskInfo, unwrapTaskInput } from './definition.js';
import { DistributedMaps } from './distributed-map.js';
import { finishRecord, historyEntry, type LibraryEvent, type Outcome, pushEvent } from './history.js';
import {
  ExecutionEndedError,
  TaskFailedError,
  TerminalTaskError,
  type TimeoutErrors,
} from './library-errors.js';
import type { MapRunStore } from './map-runs.js';
import type { ExecutionStore } from './store.js';
import { mintToken, type TaskTokens, TokenSlot } from './tokens.js';
import {
  type ExecutionRecord,
  type Json,
  type LocalLambdaInvoker,
  type LocalServiceIntegration,
  type LogSink,
  MAX_PAYLOAD_BYTES,
} from './types.js';

const HISTORY_SAVE_DELAY_MS = 100;

type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type LibraryJson = Parameters<TaskHandlers[string]>[0];

export interface RegisteredMachine {
  arn: string;
  name: string;
  roleArn: string;
  runnable: StateMachine;
  /** The definition run from another state (RedriveExecution continues at the state that failed). */
  runnableFrom(state: string): StateMachine;
  /** The names of its top-level states. */
  topLevel: ReadonlySet<string>;
  tasks: Map<string, TaskInfo>;
  stateContext: Record<string, unknown>;
}

/** What the Task states of one execution (or of one child workflow of a Map Run) run within. */
export interface RunScope {
  readonly executionArn: string;
  /** `$$.Task.Token` minted while evaluating a state's Parameters, claimed by its task handler. */
  readonly tokenSlot: TokenSlot;
  /** Open callback tokens of this run. */
  readonly tokens: Set<string>;
  /** Aborted when the run ends, so tasks still waiting on a Lambda stop waiting. */
  readonly halt: AbortController;
  /** True once the run ended, was stopped or interrupted (or, for a child, its parent was). */
  over(): boolean;
}

export interface ActiveRun extends RunScope {
  record: ExecutionRecord;
  machine: RegisteredMachine;
  abort: () => void;
  /** Set by StopExecution: the run ends ABORTED with this error/cause. */
  stopping?: { error?: string; cause?: string };
  /** Set by close(): the run is dropped but stays RUNNING on disk, to be resumed. */
  interrupted: boolean;
  ended: boolean;
  /** The Map Runs this run has started or found again (distributed-map.ts). */
  claimedMapRuns: Set<string>;
  /** Work the run waits for before it ends (Map Runs writing their outcome). */
  background: Set<Promise<void>>;
  saveTimer?: NodeJS.Timeout;
  done: Promise<void>;
}

/** Where a run starts: its state machine's StartAt with the execution input, or a redrive's state. */
export interface RunStart {
  state: string;
  input: string;
}

export interface ExecutorOptions {
  store: ExecutionStore;
  tokens: TaskTokens;
  timeouts: TimeoutErrors;
  /** The engine's timers (task timeouts). */
  clock: EngineClock;
  invokeLambda: LocalLambdaInvoker;
  integrations: Record<string, LocalServiceIntegration>;
  defaultTaskTimeoutSeconds: number;
  log: LogSink;
  mapRuns: MapRunStore;
  s3?: S3Client;
  authorizeEngineCall?: (action: string, resource: string) => Promise<void>;
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

export class Executor {
  private readonly active = new Map<string, ActiveRun>();
  readonly distributedMaps: DistributedMaps;

  constructor(private readonly opts: ExecutorOptions) {
    this.distributedMaps = new DistributedMaps({
      store: opts.mapRuns,
      ...(opts.s3 ? { s3: opts.s3 } : {}),
      authorize: opts.authorizeEngineCall ?? (async () => undefined),
      log: opts.log,
      runTask: (scope, info, input) => this.runTask(scope, info, input),
      release: (scope) => this.releaseTokens(scope),
      saveParent: (run) => this.opts.store.save(run.record),
      parentEvent: (run, type, details) => {
        pushEvent(run.record, type, details);
        this.scheduleSave(run);
      },
      parentContext: (run) => this.contextFor(run) as Record<string, unknown>,
    });
  }

  /** The run of a RUNNING execution in this process, if any. */
  run(executionArn: string): ActiveRun | undefined {
    return this.active.get(executionArn);
  }

  isActive(executionArn: string): boolean {
    return this.active.has(executionArn);
  }

  /** Whether a run in this process (or one of its Map Runs' children) holds the callback token. */
  holdsToken(executionArn: string, token: string): boolean {
    const run = this.active.get(executionArn);
    if (!run) return false;
    if (run.tokens.has(token)) return true;
    for (const tokens of this.distributedMaps.childTokenSets(run)) if (tokens.has(token)) return true;
    return false;
  }

  /** Runs the execution of `record` from its start, or (RedriveExecution) from `start`. */
  launch(record: ExecutionRecord, machine: RegisteredMachine, start?: RunStart): void {
    const run: ActiveRun = {
      executionArn: record.executionArn,
      record,
      machine,
      abort: () => undefined,
      interrupted: false,
      ended: false,
      tokenSlot: new TokenSlot(),
      tokens: new Set(),
      halt: new AbortController(),
      over: () => run.ended || run.stopping !== undefined || run.interrupted,
      claimedMapRuns: new Set(),
      background: new Set(),
      done: Promise.resolve(),
    };
    this.active.set(record.executionArn, run);
    run.done = this.runExecution(run, start)
      .catch((err: unknown) => {
        this.opts.log({
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

  /** StopExecution of a run in this process: it ends ABORTED with this error and cause. */
  async stop(run: ActiveRun, reason: { error?: string; cause?: string }): Promise<void> {
    run.stopping = reason;
    run.abort();
    this.releaseTokens(run);
    await run.done;
  }

  /** Drops every run without ending it: they stay RUNNING on disk, to be resumed. */
  interruptAll(): void {
    for (const run of this.active.values()) {
      run.interrupted = true;
      run.abort();
      this.releaseTokens(run);
    }
  }

  /** Resolves when every running execution has ended and its file is written. */
  async idle(): Promise<void> {
    while (this.active.size > 0) {
      await Promise.allSettled([...this.active.values()].map((run) => run.done));
    }
    await this.opts.store.flush();
  }

  private async runExecution(run: ActiveRun, start?: RunStart): Promise<void> {
    const { record, machine } = run;
    const handlers: TaskHandlers = {};
    for (const info of machine.tasks.values()) {
      handlers[info.stateName] =
        info.target.kind === 'distributed-map'
          ? (input) => this.distributedMaps.run(run, info, input as Json) as Promise<LibraryJson>
          : (input) => this.runTask(run, info, input as Json) as Promise<LibraryJson>;
    }
    const runnable = start ? machine.runnableFrom(start.state) : machine.runnable;
    const execution = runnable.run(JSON.parse(start ? start.input : record.input) as LibraryJson, {
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
    // Map Runs still writing their outcome (their children were just halted).
    while (run.background.size > 0) await Promise.allSettled([...run.background]);
    clearTimeout(run.saveTimer);
    if (outcome) finishRecord(record, outcome);
    await this.opts.store.save(record);
    this.opts.log({
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

  private contextFor(run: ActiveRun): RunOptions['context'] {
    const { record, machine } = run;
    const input = JSON.parse(record.input) as Json;
    const task: Record<string, unknown> = {};
    Object.defineProperty(task, 'Token', { enumerable: true, get: () => run.tokenSlot.read() });
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

  private async runTask(run: RunScope, info: TaskInfo, rawInput: Json): Promise<Json> {
    // Synchronous part first: the token minted for this entry must be claimed before anything else runs.
    const token = info.callback ? this.claimToken(run, info, rawInput) : undefined;
    const { parameters, timeoutSeconds, heartbeatSeconds } = unwrapTaskInput(
      info,
      rawInput,
      this.opts.defaultTaskTimeoutSeconds,
    );
    // One macrotask, so that an abort or execution timeout fired meanwhile is seen before we invoke anything.
    await new Promise((resolve) => setImmediate(resolve));
    if (run.over()) throw new ExecutionEndedError();

    if (token !== undefined) {
      return this.waitForCallback(run, info, token, parameters, timeoutSeconds, heartbeatSeconds);
    }
    let timer: EngineTimer | undefined;
    let onHalt: (() => void) | undefined;
    const interrupted = new Promise<never>((_, reject) => {
      timer = this.opts.clock.after(timeoutSeconds, () =>
        reject(
          this.opts.timeouts.create(
            'States.Timeout',
            `Task did not complete within TimeoutSeconds=${timeoutSeconds}`,
          ),
        ),
      );
      onHalt = () => reject(new ExecutionEndedError());
      run.halt.signal.addEventListener('abort', onHalt, { once: true });
    });
    try {
      return await Promise.race([this.callTarget(info, parameters), interrupted]);
    } finally {
      this.opts.clock.cancel(timer);
      if (onHalt) run.halt.signal.removeEventListener('abort', onHalt);
    }
  }

  private claimToken(run: RunScope, info: TaskInfo, input: Json): string {
    const claimed = run.tokenSlot.claim(input);
    if (claimed !== undefined) return claimed;
    this.opts.log({
      level: 'warn',
      msg: 'waitForTaskToken state does not pass $$.Task.Token in its Parameters; it can only time out',
      executionArn: run.executionArn,
      state: info.stateName,
    });
    return mintToken();
  }

  /** Invokes the task's target and returns the task result (before ResultSelector/ResultPath). */
  private async callTarget(info: TaskInfo, parameters: Json): Promise<Json> {
    const { target } = info;
    if (target.kind === 'lambda-function') {
      return taskResult(await this.invoke(target.functionName, parameters));
    }
    if (target.kind === 'integration') {
      const integration = this.opts.integrations[target.resource];
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
        this.opts.log({
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
      return await this.opts.invokeLambda(lambdaFunctionName(functionName), structuredClone(payload));
    } catch (err) {
      throw lambdaFailure(err);
    }
  }

  private waitForCallback(
    run: RunScope,
    info: TaskInfo,
    token: string,
    parameters: Json,
    timeoutSeconds: number,
    heartbeatSeconds: number | undefined,
  ): Promise<Json> {
    const { tokens } = this.opts;
    const { task, result } = tokens.open(token, {
      stateName: info.stateName,
      owner: run.tokens,
      timeoutSeconds,
      heartbeatSeconds,
    });
    // The target is invoked only to hand the token over; its result is ignored, but its failure
    // fails the task (as in AWS). It may well call SendTaskSuccess before it returns.
    this.handOverToken(info, parameters).catch((err: unknown) => {
      tokens.settle(task, { error: err instanceof Error ? err : lambdaFailure(err) });
    });
    return result;
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
        this.opts.log({
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

  /** Ends everything the run still waits on: callback tokens and in-flight Lambda calls. */
  private releaseTokens(run: RunScope): void {
    run.halt.abort();
    this.opts.tokens.release(run.tokens, () => new ExecutionEndedError());
  }

  /** Saves the record soon (coalescing the history events of the next few ms into one write). */
  private scheduleSave(run: ActiveRun): void {
    run.saveTimer ??= setTimeout(() => {
      run.saveTimer = undefined;
      this.opts.store.save(run.record).catch((err: unknown) => {
        this.opts.log({
          level: 'error',
          msg: 'saving execution failed',
          executionArn: run.record.executionArn,
          error: String(err),
        });
      });
    }, HISTORY_SAVE_DELAY_MS);
  }

  private async recordHistory(run: ActiveRun, events: AsyncGenerator<LibraryEvent>): Promise<void> {
    try {
      for await (const event of events) {
        if (event.type === 'StateEntered' && run.machine.topLevel.has(event.state.name)) {
          run.record.redriveFrom = {
            state: event.state.name,
            input: JSON.stringify(event.state.input ?? null),
          };
        }
        const entry = historyEntry(event, run.machine.tasks);
        if (!entry) continue;
        pushEvent(run.record, entry.type, entry.details, event.timestamp);
        this.scheduleSave(run);
      }
    } catch (err) {
      this.opts.log({
        level: 'warn',
        msg: 'execution event log failed',
        executionArn: run.record.executionArn,
        error: String(err),
      });
    }
  }
}
