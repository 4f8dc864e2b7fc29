/**
 * `LocalStepFunctions`: the Step Functions service of local mode. It registers state machines
 * (definition.ts), answers the SFN operations our Lambdas call (here; the HTTP framing is
 * protocol.ts), runs executions (executor.ts) with task tokens (tokens.ts), and keeps every
 * execution on disk (store.ts) so a new instance resumes the ones a stopped process left RUNNING.
 */
import { randomUUID } from 'node:crypto';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { AccessDeniedError, type LocalIam, wireError } from '../iam/index.js';
import { EngineClock } from './clock.js';
import { invalidDefinition, prepareDefinition } from './definition.js';
import { type ActiveRun, Executor, type RegisteredMachine } from './executor.js';
import { finishRecord, pushEvent } from './history.js';
import { TaskFailedError, TimeoutErrors } from './library-errors.js';
import { type MapRunRecord, MapRunStore } from './map-runs.js';
import {
  type AwsJsonEndpoint,
  listenAwsJson,
  optionalString,
  paginate,
  type ReceivedRequest,
  requiredString,
  WireResponseError,
} from './protocol.js';
import { queueStatusEvent } from './status-events.js';
import { ExecutionStore } from './store.js';
import { TaskTokens } from './tokens.js';
import {
  EXECUTION_ARN,
  type ExecutionRecord,
  type ExecutionStatus,
  epochSeconds,
  type Json,
  type LocalStepFunctionsOptions,
  type LogSink,
  MAP_RUN_ARN,
  MAX_PAYLOAD_BYTES,
  SfnServiceError,
  STATE_MACHINE_ARN,
  TERMINAL,
  withoutUndefined,
} from './types.js';

const DEFAULT_TASK_TIMEOUT_SECONDS = 60;
// AWS names: 1-80 chars, no whitespace, brackets, wildcards, the listed punctuation or control characters.
const INVALID_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]/u;

/** The fields ListExecutions gives per execution (DescribeExecution gives more). */
function executionListItem(record: ExecutionRecord): Record<string, unknown> {
  return withoutUndefined({
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: epochSeconds(record.startDate),
    stopDate: record.stopDate ? epochSeconds(record.stopDate) : undefined,
    redriveCount: record.redriveCount,
  });
}

function describeExecution(record: ExecutionRecord): Record<string, unknown> {
  return withoutUndefined({
    ...executionListItem(record),
    input: record.input,
    inputDetails: { included: true },
    traceHeader: record.traceHeader,
    output: record.output,
    outputDetails: record.output !== undefined ? { included: true } : undefined,
    error: record.error,
    cause: record.cause,
    redriveCount: record.redriveCount,
    redriveDate: record.redriveDate ? epochSeconds(record.redriveDate) : undefined,
  });
}

const zeroCounts = {
  pending: 0,
  running: 0,
  succeeded: 0,
  failed: 0,
  timedOut: 0,
  aborted: 0,
  total: 0,
  resultsWritten: 0,
};

/** DescribeMapRun's answer. */
function describeMapRun(run: MapRunRecord): Record<string, unknown> {
  return withoutUndefined({
    mapRunArn: run.mapRunArn,
    executionArn: run.executionArn,
    status: run.status,
    startDate: epochSeconds(run.startDate),
    stopDate: run.stopDate ? epochSeconds(run.stopDate) : undefined,
    maxConcurrency: run.maxConcurrency,
    toleratedFailurePercentage: run.toleratedFailurePercentage ?? 0,
    toleratedFailureCount: run.toleratedFailureCount ?? 0,
    itemCounts: { ...zeroCounts, total: run.itemCount, ...run.itemCounts },
    executionCounts: { ...zeroCounts, total: run.childCount, ...run.executionCounts },
    redriveCount: run.redriveCount,
    redriveDate: run.redriveDate ? epochSeconds(run.redriveDate) : undefined,
  });
}

export class LocalStepFunctions {
  private readonly log: LogSink;
  private readonly store: ExecutionStore;
  private readonly mapRuns: MapRunStore;
  private readonly timeouts = new TimeoutErrors();
  private readonly tokens: TaskTokens;
  private readonly clock = new EngineClock();
  private readonly executor: Executor;
  private readonly machines = new Map<string, RegisteredMachine>();
  private readonly records = new Map<string, ExecutionRecord>();
  private readonly endpoints = new Set<AwsJsonEndpoint>();
  private closed = false;
  private warnedPlainTimeouts = false;

  constructor(opts: LocalStepFunctionsOptions) {
    this.log = opts.log ?? (() => undefined);
    this.store = new ExecutionStore(opts.dataDir, { statusEvents: opts.onStatusChange, log: this.log });
    this.tokens = new TaskTokens(this.timeouts, this.clock);
    this.mapRuns = new MapRunStore(opts.dataDir);
    this.executor = new Executor({
      store: this.store,
      tokens: this.tokens,
      timeouts: this.timeouts,
      clock: this.clock,
      invokeLambda: opts.invokeLambda,
      integrations: opts.serviceIntegrations ?? {},
      defaultTaskTimeoutSeconds: opts.defaultTaskTimeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS,
      log: this.log,
      mapRuns: this.mapRuns,
      ...(opts.s3 ? { s3: opts.s3 } : {}),
      ...(opts.authorizeEngineCall ? { authorizeEngineCall: opts.authorizeEngineCall } : {}),
    });
    for (const record of this.store.loadAll(this.log)) this.records.set(record.executionArn, record);
  }

  /**
   * Registers (or replaces) a state machine. The definition is validated as aws-local-stepfunctions
   * validates it; features the local engine cannot run faithfully (JSONata, variables, the
   * Distributed Map fields listed in the README) are refused.
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
    const build = (startAt?: string) =>
      new StateMachine(
        {
          ...prepared.definition,
          ...(startAt ? { StartAt: startAt } : {}),
        } as unknown as StateMachineDefinition,
        { validationOptions: { noValidate: true } },
      );
    const fromState = new Map<string, StateMachine>();
    this.machines.set(arn, {
      arn,
      name,
      roleArn: options.roleArn ?? `arn:${partition}:iam::${account}:role/${name}-local`,
      runnable: build(),
      runnableFrom: (state) => {
        let runnable = fromState.get(state);
        if (!runnable) {
          runnable = build(state);
          fromState.set(state, runnable);
        }
        return runnable;
      },
      topLevel: new Set(Object.keys(prepared.definition.States as object)),
      tasks: prepared.tasks,
      stateContext: prepared.stateContext,
    });
  }

  /**
   * Tests only: moves the engine's clock `seconds` forward, so task, callback and heartbeat
   * timeouts that would fire by then fire now (lib/local/sfn/clock.ts). Nothing in AWS does this.
   */
  advanceClock(seconds: number): void {
    this.clock.advance(seconds);
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
      case 'RedriveExecution':
        return this.redriveExecution(body);
      case 'DescribeMapRun':
        return this.describeMapRun(body);
      case 'ListMapRuns':
        return this.listMapRuns(body);
      default:
        throw new SfnServiceError(
          'UnknownOperationException',
          `Operation ${operation} is not supported locally`,
        );
    }
  }

  /**
   * HTTP server speaking the awsJson1_0 protocol of the AWS SDK v3 SFN client. With `iam`, each
   * request must be signed by one of its identities and is checked against that identity's
   * policies (SendTask* on the state machine of the token's execution); a refusal is Step
   * Functions' AccessDeniedException.
   */
  async listen(
    port: number,
    host = '127.0.0.1',
    options: { iam?: LocalIam } = {},
  ): Promise<{ url: string; handle: AwsJsonEndpoint['handle']; close(): Promise<void> }> {
    const { iam } = options;
    if (iam) iam.stateMachineOfToken = (token) => this.stateMachineOfToken(token);
    const endpoint = await listenAwsJson(
      async (operation, body, request) => {
        if (iam) await this.authorize(iam, operation, body, request);
        return this.handle(operation, body);
      },
      this.log,
      port,
      host,
    );
    this.endpoints.add(endpoint);
    return {
      url: endpoint.url,
      handle: endpoint.handle,
      close: () => {
        this.endpoints.delete(endpoint);
        return endpoint.close();
      },
    };
  }

  /**
   * Re-starts executions that were RUNNING when the process last stopped: same executionArn, same
   * input, run again from the start (their history gets an ExecutionRedriven event). Executions
   * whose state machine is not registered are skipped. Returns the arns resumed.
   */
  async resumeInterrupted(): Promise<string[]> {
    this.assertOpen();
    await this.prepareTimeouts();
    // Status events a previous process queued and did not deliver go out again.
    this.store.deliverQueued(this.records.values());
    const resumed: string[] = [];
    for (const record of this.records.values()) {
      if (record.status !== 'RUNNING' || this.executor.isActive(record.executionArn)) continue;
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
      queueStatusEvent(record);
      await this.store.save(record);
      this.executor.launch(record, machine);
      resumed.push(record.executionArn);
      this.log({ level: 'info', msg: 'execution resumed from the start', executionArn: record.executionArn });
    }
    return resumed;
  }

  /** Resolves when every running execution has ended and its file is written (for tests). */
  idle(): Promise<void> {
    return this.executor.idle();
  }

  /**
   * Stops the HTTP servers and drops running executions without ending them: they stay RUNNING
   * on disk, like after a crash, and `resumeInterrupted()` of the next instance re-runs them.
   */
  async close(): Promise<void> {
    this.closed = true;
    const endpoints = [...this.endpoints];
    this.endpoints.clear();
    await Promise.all(endpoints.map((endpoint) => endpoint.close()));
    this.executor.interruptAll();
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
    const traceHeader = optionalString(body, 'traceHeader');
    if (traceHeader !== undefined && traceHeader.length > 256) {
      throw new SfnServiceError(
        'ValidationException',
        "Value at 'traceHeader' failed to satisfy constraint: Member must have length less than or equal to 256",
      );
    }
    await this.prepareTimeouts();

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
      ...(traceHeader !== undefined ? { traceHeader } : {}),
      startDate: new Date().toISOString(),
      redriveCount: 0,
      history: [],
    };
    pushEvent(record, 'ExecutionStarted', {
      executionStartedEventDetails: { input, inputDetails: { truncated: false }, roleArn: machine.roleArn },
    });
    queueStatusEvent(record);
    this.records.set(executionArn, record);
    await this.store.save(record);
    this.executor.launch(record, machine);
    this.log({ level: 'info', msg: 'execution started', executionArn });
    return { executionArn, startDate: epochSeconds(record.startDate) };
  }

  /**
   * RedriveExecution: a FAILED, TIMED_OUT or ABORTED execution continues from the top-level state
   * it failed in, with that state's input (its earlier history kept, ExecutionRedriven appended).
   * A Distributed Map it reaches redrives its Map Run (distributed-map.ts).
   * https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html
   */
  private async redriveExecution(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.assertOpen();
    const record = this.getRecord(requiredString(body, 'executionArn'));
    if (
      record.status === 'RUNNING' ||
      record.status === 'SUCCEEDED' ||
      this.executor.isActive(record.executionArn)
    ) {
      throw new SfnServiceError(
        'ExecutionNotRedrivable',
        `Execution is ${record.status} and cannot be redriven`,
      );
    }
    const machine = this.machines.get(record.stateMachineArn);
    if (!machine) {
      throw new SfnServiceError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${record.stateMachineArn}'`,
      );
    }
    await this.prepareTimeouts();
    const redriveDate = new Date().toISOString();
    record.status = 'RUNNING';
    delete record.stopDate;
    delete record.output;
    delete record.error;
    delete record.cause;
    record.redriveCount += 1;
    record.redrives = (record.redrives ?? 0) + 1;
    record.redriveDate = redriveDate;
    pushEvent(record, 'ExecutionRedriven', {
      executionRedrivenEventDetails: { redriveCount: record.redriveCount },
    });
    queueStatusEvent(record);
    await this.store.save(record);
    this.executor.launch(record, machine, record.redriveFrom);
    this.log({ level: 'info', msg: 'execution redriven', executionArn: record.executionArn });
    return { redriveDate: epochSeconds(redriveDate) };
  }

  private describeMapRun(body: Record<string, unknown>): Record<string, unknown> {
    const mapRunArn = requiredString(body, 'mapRunArn');
    const id = MAP_RUN_ARN.exec(mapRunArn)?.[6];
    if (!id) throw new SfnServiceError('InvalidArn', `Invalid Arn: '${mapRunArn}'`);
    const run = this.executor.distributedMaps.describeActive(mapRunArn) ?? this.mapRuns.load(id);
    if (!run || run.mapRunArn !== mapRunArn) {
      throw new SfnServiceError('ResourceNotFound', `Map Run Does Not Exist: '${mapRunArn}'`);
    }
    return describeMapRun(run);
  }

  private listMapRuns(body: Record<string, unknown>): Record<string, unknown> {
    const record = this.getRecord(requiredString(body, 'executionArn'));
    const runs = (record.mapRuns ?? [])
      .map((ref) => this.mapRuns.load(MAP_RUN_ARN.exec(ref.mapRunArn)?.[6] ?? ''))
      .filter((run): run is MapRunRecord => run !== undefined)
      .sort((a, b) => b.startDate.localeCompare(a.startDate));
    const { page, nextToken } = paginate(runs, body, 100);
    return withoutUndefined({
      mapRuns: page.map((run) =>
        withoutUndefined({
          executionArn: run.executionArn,
          mapRunArn: run.mapRunArn,
          stateMachineArn: run.stateMachineArn,
          startDate: epochSeconds(run.startDate),
          stopDate: run.stopDate ? epochSeconds(run.stopDate) : undefined,
        }),
      ),
      nextToken,
    });
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
      executions: page.map(executionListItem),
      nextToken,
    });
  }

  private async stopExecution(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const record = this.getRecord(requiredString(body, 'executionArn'));
    const error = optionalString(body, 'error');
    const cause = optionalString(body, 'cause');
    if (record.status === 'RUNNING') {
      const run: ActiveRun | undefined = this.executor.run(record.executionArn);
      if (run) {
        await this.executor.stop(run, { error, cause });
      } else {
        // RUNNING on disk, left by a process that stopped, and not resumed.
        finishRecord(record, { status: 'ABORTED', error, cause });
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
    const task = this.tokens.lookup(token);
    let parsed: Json;
    try {
      parsed = JSON.parse(output) as Json;
    } catch (err) {
      throw new SfnServiceError('InvalidOutput', 'Invalid output: the output is not valid JSON', {
        cause: err,
      });
    }
    this.tokens.settle(task, { output: parsed });
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
    this.tokens.settle(this.tokens.lookup(token), { error: new TaskFailedError(error, cause) });
    return {};
  }

  private sendTaskHeartbeat(body: Record<string, unknown>): Record<string, unknown> {
    this.tokens.heartbeat(this.tokens.lookup(requiredString(body, 'taskToken')));
    return {};
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing
  // -------------------------------------------------------------------------------------------

  private async authorize(
    iam: LocalIam,
    operation: string,
    body: Record<string, unknown>,
    request: ReceivedRequest,
  ): Promise<void> {
    try {
      await iam.authorizeOperation('states', request, operation, body);
    } catch (err) {
      if (!(err instanceof AccessDeniedError)) throw err;
      const wire = wireError('states', err);
      throw new WireResponseError(wire.status, wire.headers, wire.body);
    }
  }

  /**
   * The state machine of the execution a task token belongs to. A closed or unknown token (the
   * call then answers TaskTimedOut or InvalidToken) is taken to be the only registered machine's,
   * so a caller allowed on it gets that answer rather than AccessDenied.
   */
  private stateMachineOfToken(token: string): string | undefined {
    for (const record of this.records.values()) {
      if (record.status !== 'RUNNING') continue;
      if (this.executor.holdsToken(record.executionArn, token)) return record.stateMachineArn;
    }
    return this.machines.size === 1 ? [...this.machines.keys()][0] : undefined;
  }

  private async prepareTimeouts(): Promise<void> {
    if (!(await this.timeouts.prepare()) && !this.warnedPlainTimeouts) {
      this.warnedPlainTimeouts = true;
      this.log({
        level: 'warn',
        msg: 'could not find the library timeout error class: States.TaskFailed will also match task timeouts',
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
}
