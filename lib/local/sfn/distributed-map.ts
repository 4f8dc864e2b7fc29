/**
 * Map Runs: what a Map state in Distributed mode does, locally. The library runs the state as a
 * Task stand-in (definition.ts) and hands its evaluated Parameters here; this runs the Map Run
 * and returns its result (or throws its error) for the library to apply ResultSelector,
 * ResultPath, OutputPath, Retry and Catch, as for the Map state in AWS.
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html
 *
 * A Map Run:
 * 1. checks `states:StartExecution` on the state machine as its role (the child workflows are
 *    executions of it; a role without it fails the execution with States.Runtime);
 * 2. reads the items (ItemReader on S3, item-reader.ts; else the array at ItemsPath), applies
 *    ItemSelector to each (with `$$.Map.Item.Index` / `$$.Map.Item.Value`) and ItemBatcher, and
 *    spools the child inputs to disk (map-runs.ts);
 * 3. runs one child workflow execution of the ItemProcessor per item or batch, at most
 *    MaxConcurrency at once (0: up to 10,000 in AWS; locally at most LOCAL_MAX_CONCURRENCY), each
 *    with its own history and Context Object; each ended child is appended to disk and dropped
 *    from memory, so the parent's history and the process's memory do not grow with the items;
 * 4. fails with States.ExceedToleratedFailureThreshold once the failed or timed out items exceed
 *    ToleratedFailurePercentage or ToleratedFailureCount (any failed item when neither is set),
 *    aborting the children still running
 *    (https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html);
 * 5. writes the results (result-writer.ts) and records MapRunStarted / MapRunSucceeded /
 *    MapRunFailed / MapRunAborted / MapRunRedriven in the parent's history.
 *
 * Finding a Map Run again: the execution's record lists its Map Runs by state and a digest of
 * the state's evaluated input (`MapRunRef`). When the execution runs again, the n-th entry of a
 * Distributed Map state with the same input is the n-th Map Run of that state and input:
 * - after a restart of the process (the execution re-runs from the start), a Map Run still
 *   RUNNING resumes: the children recorded as ended keep their outcome, the others (those that
 *   never started, and those that were running) run, from the start; an ended Map Run gives its
 *   recorded result or error again without running anything;
 * - after RedriveExecution (a new attempt), a FAILED or ABORTED Map Run of an earlier attempt is
 *   redriven: its succeeded children are kept, the failed, timed out and aborted ones are
 *   redriven (STANDARD: from the state they failed in, with their history continued; EXPRESS:
 *   started again) and the items no child ran are started
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html).
 * So an item is reported once, whatever the restarts; a child that was running when the process
 * stopped runs again (at least once, as an interrupted execution does).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
} from 'aws-local-stepfunctions';
import type { DistributedMapCall, DistributedMapInfo, TaskInfo } from './definition.js';
import type { ActiveRun, RunScope } from './executor.js';
import { historyEntry, type LibraryEvent, pushEvent } from './history.js';
import { readItems } from './item-reader.js';
import { ExecutionEndedError, TaskFailedError, TerminalTaskError } from './library-errors.js';
import {
  CHILD_STATUS_CODE,
  type ChildIndex,
  type ChildRecord,
  type ChildStatus,
  type LineWriter,
  type MapRunCounts,
  type MapRunRecord,
  type MapRunStore,
  NOT_RUN,
  type SpoolLine,
  spoolLine,
} from './map-runs.js';
import {
  ArrayFile,
  categoryOf,
  childEntry,
  InlineResults,
  pendingEntry,
  type ResultCategory,
  uploadResults,
  writerTarget,
} from './result-writer.js';
import { TokenSlot } from './tokens.js';
import {
  type HistoryEvent,
  isObject,
  type Json,
  type LogSink,
  MAP_RUN_ARN,
  MAX_PAYLOAD_BYTES,
  STATE_MACHINE_ARN,
} from './types.js';

/** AWS runs up to 10,000 child workflows at once; locally at most this many run at once. */
export const LOCAL_MAX_CONCURRENCY = 1000;
const AWS_MAX_CONCURRENCY = 10_000;
const EXCEEDED = {
  error: 'States.ExceedToleratedFailureThreshold',
  cause: 'The specified tolerated failure threshold was exceeded',
};

type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type Mode = 'start' | 'resume' | 'redrive';
/** Why a Map Run failed; `terminal`: neither retried nor caught (States.Runtime, States.DataLimitExceeded). */
type Failure = { error: string; cause: string; terminal?: boolean };

export interface MapEngineOptions {
  store: MapRunStore;
  s3?: S3Client;
  /** Checks an action of the state machine's role (rejects when denied). */
  authorize: (action: string, resource: string) => Promise<void>;
  log: LogSink;
  /** Runs a Task state of a child workflow (the executor's Task handling). */
  runTask: (scope: RunScope, info: TaskInfo, input: Json) => Promise<Json>;
  /** Ends what a scope still waits on (callback tokens, Lambda calls). */
  release: (scope: RunScope) => void;
  /** Saves the parent's record (with its Map Run references), now. */
  saveParent: (run: ActiveRun) => Promise<void>;
  /** Appends an event to the parent's history (saved soon). */
  parentEvent: (run: ActiveRun, type: string, details: Record<string, unknown>) => void;
  /** The parent's Context Object (for ItemSelector). */
  parentContext: (run: ActiveRun) => Record<string, unknown>;
}

/** A child workflow execution while it runs. */
interface RunningChild {
  scope: RunScope;
  abort: () => void;
  /** Set when the Map Run aborts it (threshold exceeded). */
  abortedByMapRun: boolean;
}

interface Settings {
  maxConcurrency: number;
  percentage?: number;
  count?: number;
  maxItemsPerBatch?: number;
  maxInputBytesPerBatch?: number;
  readerMaxItems: number;
}

/** The in-memory state of a Map Run this process runs: counters, and a byte per child. */
class ActiveMapRun {
  readonly running = new Map<number, RunningChild>();
  /** Items and children by status (SUCCEEDED, FAILED, TIMED_OUT, ABORTED). */
  readonly itemsBy = { SUCCEEDED: 0, FAILED: 0, TIMED_OUT: 0, ABORTED: 0 };
  readonly childrenBy = { SUCCEEDED: 0, FAILED: 0, TIMED_OUT: 0, ABORTED: 0 };
  runningItems = 0;
  exceeded = false;
  failure: Failure | undefined;
  index!: ChildIndex;
  log!: LineWriter;
  private waiters: (() => void)[] = [];

  constructor(
    readonly record: MapRunRecord,
    readonly info: DistributedMapInfo,
    readonly call: DistributedMapCall,
    readonly parent: ActiveRun,
    readonly childArnPrefix: string,
  ) {}

  stopping(): boolean {
    return this.exceeded || this.failure !== undefined || this.parent.over();
  }

  waitSlot(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  count(status: ChildStatus, items: number, sign: 1 | -1): void {
    this.itemsBy[status] += sign * items;
    this.childrenBy[status] += sign;
  }

  thresholdExceeded(): boolean {
    const failed = this.itemsBy.FAILED + this.itemsBy.TIMED_OUT;
    if (failed === 0) return false;
    const { toleratedFailurePercentage: percentage, toleratedFailureCount: count } = this.record;
    if (percentage === undefined && count === undefined) return true;
    if (percentage !== undefined && (failed / Math.max(this.record.itemCount, 1)) * 100 > percentage)
      return true;
    return count !== undefined && failed > count;
  }

  counts(): { itemCounts: MapRunCounts; executionCounts: MapRunCounts } {
    const make = (by: typeof this.itemsBy, running: number, total: number): MapRunCounts => ({
      pending: Math.max(total - running - by.SUCCEEDED - by.FAILED - by.TIMED_OUT - by.ABORTED, 0),
      running,
      succeeded: by.SUCCEEDED,
      failed: by.FAILED,
      timedOut: by.TIMED_OUT,
      aborted: by.ABORTED,
      total,
      resultsWritten: 0,
    });
    return {
      itemCounts: make(this.itemsBy, this.runningItems, this.record.itemCount),
      executionCounts: make(this.childrenBy, this.running.size, this.record.childCount),
    };
  }
}

function uuidFrom(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function runtimeError(message: string): TerminalTaskError {
  return new TerminalTaskError('States.Runtime', message);
}

function integerSetting(
  value: Json | undefined,
  field: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw runtimeError(
      `${field} must resolve to an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function resolveSettings(info: DistributedMapInfo, call: DistributedMapCall): Settings {
  const percentage = 'toleratedFailurePercentage' in call ? call.toleratedFailurePercentage : undefined;
  if (percentage !== undefined && (typeof percentage !== 'number' || percentage < 0 || percentage > 100)) {
    throw runtimeError(
      `ToleratedFailurePercentagePath must resolve to a number from 0 to 100, got ${JSON.stringify(percentage)}`,
    );
  }
  const settings: Settings = {
    maxConcurrency:
      integerSetting(call.maxConcurrency, 'MaxConcurrencyPath', 0, AWS_MAX_CONCURRENCY) ??
      info.maxConcurrency ??
      0,
    readerMaxItems:
      integerSetting(call.readerMaxItems, 'MaxItemsPath', 0, 100_000_000) ?? info.reader?.maxItems ?? 0,
  };
  const pct = (percentage as number | undefined) ?? info.toleratedFailurePercentage;
  if (pct !== undefined) settings.percentage = pct;
  const count =
    integerSetting(call.toleratedFailureCount, 'ToleratedFailureCountPath', 0, Number.MAX_SAFE_INTEGER) ??
    info.toleratedFailureCount;
  if (count !== undefined) settings.count = count;
  const perBatch =
    integerSetting(call.maxItemsPerBatch, 'MaxItemsPerBatchPath', 1, 100_000_000) ??
    info.batcher?.maxItemsPerBatch;
  if (perBatch !== undefined) settings.maxItemsPerBatch = perBatch;
  const bytes =
    integerSetting(call.maxInputBytesPerBatch, 'MaxInputBytesPerBatchPath', 1, MAX_PAYLOAD_BYTES) ??
    info.batcher?.maxInputBytesPerBatch;
  if (bytes !== undefined) settings.maxInputBytesPerBatch = bytes;
  return settings;
}

export class DistributedMaps {
  private readonly active = new Map<string, ActiveMapRun>();

  constructor(private readonly opts: MapEngineOptions) {}

  /** The Task handler of a Distributed Map's stand-in: runs (or finds again) its Map Run. */
  async run(parent: ActiveRun, task: TaskInfo, raw: Json): Promise<Json> {
    if (task.target.kind !== 'distributed-map')
      throw runtimeError(`${task.stateName} is not a Distributed Map`);
    const info = task.target.map;
    await new Promise((resolve) => setImmediate(resolve));
    if (parent.over()) throw new ExecutionEndedError();
    const call = (isObject(raw) ? raw : { input: raw }) as unknown as DistributedMapCall;
    const key = createHash('sha256').update(JSON.stringify(raw)).digest('hex').slice(0, 32);
    const attempt = parent.record.redrives ?? 0;
    parent.record.mapRuns ??= [];
    const ref = parent.record.mapRuns.find(
      (r) => r.state === info.stateName && r.key === key && !parent.claimedMapRuns.has(r.mapRunArn),
    );
    const found = ref ? this.opts.store.load(MAP_RUN_ARN.exec(ref.mapRunArn)?.[6] ?? '') : undefined;
    let mode: Mode = 'start';
    if (ref && found) {
      parent.claimedMapRuns.add(ref.mapRunArn);
      if (found.status === 'SUCCEEDED') return JSON.parse(found.output ?? 'null') as Json;
      if (found.status === 'RUNNING') mode = 'resume';
      else if (ref.attempt < attempt) mode = 'redrive';
      else throw failureOf(found);
      ref.attempt = attempt;
    }
    const work = this.execute(parent, info, call, key, found, mode);
    const tracked = work.then(
      () => undefined,
      () => undefined,
    );
    parent.background.add(tracked);
    void tracked.finally(() => parent.background.delete(tracked));
    return work;
  }

  /** A Map Run this process runs now (for DescribeMapRun), with live counts. */
  describeActive(mapRunArn: string): MapRunRecord | undefined {
    const m = this.active.get(mapRunArn);
    return m ? { ...m.record, ...m.counts() } : undefined;
  }

  /** The callback tokens of the children this process runs for `parent`. */
  *childTokenSets(parent: ActiveRun): Generator<Set<string>> {
    for (const m of this.active.values()) {
      if (m.parent !== parent) continue;
      for (const child of m.running.values()) yield child.scope.tokens;
    }
  }

  private async execute(
    parent: ActiveRun,
    info: DistributedMapInfo,
    call: DistributedMapCall,
    key: string,
    found: MapRunRecord | undefined,
    mode: Mode,
  ): Promise<Json> {
    const { store } = this.opts;
    const [, partition, region, account, smName] = STATE_MACHINE_ARN.exec(parent.machine.arn) ?? [];
    const childArnPrefix = `arn:${partition}:states:${region}:${account}:execution:${smName}/${info.label}:`;
    let record: MapRunRecord;
    if (mode === 'start' || !found) {
      const settings = resolveSettings(info, call);
      await this.authorizeOrFail('states:StartExecution', parent.machine.arn);
      const id = randomUUID();
      record = {
        mapRunArn: `arn:${partition}:states:${region}:${account}:mapRun:${smName}/${info.label}:${id}`,
        id,
        executionArn: parent.record.executionArn,
        stateMachineArn: `arn:${partition}:states:${region}:${account}:stateMachine:${smName}/${info.label}`,
        stateName: info.stateName,
        label: info.label,
        executionType: info.executionType,
        status: 'RUNNING',
        startDate: new Date().toISOString(),
        redriveCount: 0,
        maxConcurrency: settings.maxConcurrency,
        ...(settings.percentage !== undefined ? { toleratedFailurePercentage: settings.percentage } : {}),
        ...(settings.count !== undefined ? { toleratedFailureCount: settings.count } : {}),
        itemsReady: false,
        itemCount: 0,
        childCount: 0,
      };
      await store.create(record);
      parent.claimedMapRuns.add(record.mapRunArn);
      parent.record.mapRuns?.push({
        mapRunArn: record.mapRunArn,
        state: info.stateName,
        key,
        attempt: parent.record.redrives ?? 0,
      });
      await this.opts.saveParent(parent);
      this.opts.parentEvent(parent, 'MapRunStarted', {
        mapRunStartedEventDetails: { mapRunArn: record.mapRunArn },
      });
    } else {
      record = found;
      if (mode === 'redrive') {
        await this.authorizeOrFail('states:StartExecution', parent.machine.arn);
        record.status = 'RUNNING';
        record.redriveCount += 1;
        record.redriveDate = new Date().toISOString();
        delete record.stopDate;
        delete record.error;
        delete record.cause;
        delete record.terminal;
        await store.save(record);
        await this.opts.saveParent(parent);
        this.opts.parentEvent(parent, 'MapRunRedriven', {
          mapRunRedrivenEventDetails: { mapRunArn: record.mapRunArn, redriveCount: record.redriveCount },
        });
      }
    }

    const m = new ActiveMapRun(record, info, call, parent, childArnPrefix);
    this.active.set(record.mapRunArn, m);
    const onHalt = () => {
      for (const child of m.running.values()) child.abort();
      m.wake();
    };
    parent.halt.signal.addEventListener('abort', onHalt);
    try {
      if (!record.itemsReady) {
        try {
          await this.spool(m, resolveSettings(info, call));
        } catch (err) {
          if (!parent.over()) m.failure = failureFrom(err);
        }
      }
      if (!m.failure) {
        const scan = await store.scanChildren(record.id, record.childCount);
        m.index = scan.index;
        for (let i = 0; i < record.childCount; i += 1) {
          const code = m.index.status[i] as number;
          if (code === NOT_RUN) continue;
          const status = statusOfCode(code);
          // A redrive runs the unsuccessful children again: only the succeeded ones count.
          if (mode === 'redrive' && status !== 'SUCCEEDED') continue;
          m.count(status, m.index.items[i] as number, 1);
        }
        m.exceeded = mode !== 'redrive' && m.thresholdExceeded();
        m.log = store.childLog(record.id, scan.size);
        try {
          if (mode === 'redrive') await this.authorizeChildRedrives(m);
          if (!m.stopping()) await this.runChildren(m, mode);
        } finally {
          await m.log.close();
        }
      }
      return await this.finish(m);
    } finally {
      parent.halt.signal.removeEventListener('abort', onHalt);
      this.active.delete(record.mapRunArn);
    }
  }

  private async authorizeOrFail(action: string, resource: string): Promise<void> {
    try {
      await this.opts.authorize(action, resource);
    } catch (err) {
      throw runtimeError(err instanceof Error ? err.message : String(err));
    }
  }

  /** A redrive of STANDARD children is RedriveExecution of each, by the state machine's role. */
  private async authorizeChildRedrives(m: ActiveMapRun): Promise<void> {
    if (m.info.executionType !== 'STANDARD') return;
    for (let i = 0; i < m.record.childCount; i += 1) {
      const code = m.index.status[i] as number;
      if (code === NOT_RUN || code === CHILD_STATUS_CODE.SUCCEEDED) continue;
      try {
        await this.opts.authorize('states:RedriveExecution', `${m.childArnPrefix}${childName(m.record, i)}`);
      } catch (err) {
        m.failure = {
          error: 'States.Runtime',
          cause: err instanceof Error ? err.message : String(err),
          terminal: true,
        };
      }
      return;
    }
  }

  /** Reads the items, applies ItemSelector and ItemBatcher, and writes the child inputs to disk. */
  private async spool(m: ActiveMapRun, settings: Settings): Promise<void> {
    const { info, call, parent, record } = m;
    const writer = this.opts.store.spoolWriter(record.id);
    let itemCount = 0;
    let childCount = 0;
    try {
      const source = info.reader
        ? readItems(this.opts.s3, info.reader, call.reader, settings.readerMaxItems)
        : inlineItems('items' in call ? call.items : call.input);
      const batching = info.batcher !== undefined;
      const base: Record<string, Json> = call.batchInput !== undefined ? { BatchInput: call.batchInput } : {};
      const baseBytes = Buffer.byteLength(JSON.stringify({ ...base, Items: [] }));
      let batch: Json[] = [];
      let batchBytes = baseBytes;
      const flush = async () => {
        if (batch.length === 0) return;
        await writer.writeRaw(spoolLine(batch.length, { ...base, Items: batch }));
        childCount += 1;
        batch = [];
        batchBytes = baseBytes;
      };
      const context = info.selector ? this.opts.parentContext(parent) : undefined;
      for await (const item of source) {
        if (parent.over()) throw new ExecutionEndedError();
        const selected = info.selector
          ? await select(info, call.input, context ?? {}, itemCount, item)
          : item;
        if (batching) {
          const bytes = Buffer.byteLength(JSON.stringify(selected)) + 1;
          const { maxItemsPerBatch: maxItems, maxInputBytesPerBatch: maxBytes } = settings;
          if (maxBytes !== undefined && baseBytes + bytes > maxBytes) {
            throw runtimeError(
              `Item ${itemCount} alone is larger than MaxInputBytesPerBatch (${maxBytes} bytes)`,
            );
          }
          if (
            (maxItems !== undefined && batch.length >= maxItems) ||
            (maxBytes !== undefined && batchBytes + bytes > maxBytes)
          ) {
            await flush();
          }
          batch.push(selected);
          batchBytes += bytes;
        } else {
          await writer.writeRaw(spoolLine(1, selected));
          childCount += 1;
        }
        itemCount += 1;
      }
      await flush();
    } finally {
      await writer.close();
    }
    record.itemCount = itemCount;
    record.childCount = childCount;
    record.itemsReady = true;
    await this.opts.store.save(record);
  }

  private async runChildren(m: ActiveMapRun, mode: Mode): Promise<void> {
    const limit = Math.min(m.record.maxConcurrency || AWS_MAX_CONCURRENCY, LOCAL_MAX_CONCURRENCY);
    const reader = this.opts.store.openChildren(m.record.id);
    try {
      for await (const line of this.opts.store.spoolLines(m.record.id)) {
        if (m.stopping()) break;
        const code = m.index.status[line.index] as number;
        if (code === CHILD_STATUS_CODE.SUCCEEDED) continue;
        if (code !== NOT_RUN && mode !== 'redrive') continue;
        while (m.running.size >= limit && !m.stopping()) await m.waitSlot();
        if (m.stopping()) break;
        const previous =
          code === NOT_RUN
            ? undefined
            : await reader.read(m.index.offsets[line.index] as number, m.index.lengths[line.index] as number);
        void this.startChild(m, line, previous);
      }
      while (m.running.size > 0) await m.waitSlot();
    } finally {
      await reader.close();
    }
  }

  private startChild(m: ActiveMapRun, line: SpoolLine, previous: ChildRecord | undefined): Promise<void> {
    let ended = false;
    const halt = new AbortController();
    const scope: RunScope = {
      executionArn: `${m.childArnPrefix}${childName(m.record, line.index)}`,
      tokenSlot: new TokenSlot(),
      tokens: new Set(),
      halt,
      over: () => ended || halt.signal.aborted || m.parent.over(),
    };
    const child: RunningChild = { scope, abort: () => halt.abort(), abortedByMapRun: false };
    m.running.set(line.index, child);
    m.runningItems += line.items;
    return this.runChild(m, line, child, previous)
      .catch((err: unknown) => {
        this.opts.log({
          level: 'error',
          msg: 'child workflow execution failed to run',
          mapRunArn: m.record.mapRunArn,
          index: line.index,
          error: String(err),
        });
      })
      .finally(() => {
        ended = true;
        this.opts.release(scope);
        m.running.delete(line.index);
        m.runningItems -= line.items;
        m.wake();
      });
  }

  private async runChild(
    m: ActiveMapRun,
    line: SpoolLine,
    child: RunningChild,
    previous: ChildRecord | undefined,
  ): Promise<void> {
    const { info, parent, record } = m;
    const name = childName(record, line.index);
    const redrive =
      previous && info.executionType === 'STANDARD' && previous.redriveFrom
        ? previous.redriveFrom
        : undefined;
    const holder: { history: HistoryEvent[] } = { history: redrive && previous ? previous.history : [] };
    const redriveCount = previous && info.executionType === 'STANDARD' ? previous.redriveCount + 1 : 0;
    const startDate = redrive && previous ? previous.startDate : new Date().toISOString();
    const originalInput = JSON.parse(line.input) as Json;
    if (redrive) {
      pushEvent(holder, 'ExecutionRedriven', { executionRedrivenEventDetails: { redriveCount } });
    } else {
      pushEvent(holder, 'ExecutionStarted', {
        executionStartedEventDetails: {
          input: line.input,
          inputDetails: { truncated: false },
          roleArn: parent.machine.roleArn,
        },
      });
    }
    const task: Record<string, unknown> = {};
    Object.defineProperty(task, 'Token', { enumerable: true, get: () => child.scope.tokenSlot.read() });
    const handlers: TaskHandlers = {};
    for (const t of parent.machine.tasks.values()) {
      if (t.target.kind === 'distributed-map') continue;
      handlers[t.stateName] = (input) =>
        this.opts.runTask(child.scope, t, input as Json) as ReturnType<TaskHandlers[string]>;
    }
    const runnable = info.childRunnable(redrive?.state);
    const execution = runnable.run((redrive ? JSON.parse(redrive.input) : originalInput) as never, {
      overrides: { taskResourceLocalHandlers: handlers },
      context: {
        Execution: {
          Id: child.scope.executionArn,
          Name: name,
          Input: originalInput,
          StartTime: startDate,
          RoleArn: parent.machine.roleArn,
          RedriveCount: redriveCount,
        },
        StateMachine: { Id: record.stateMachineArn, Name: record.stateMachineArn.split(':').at(-1) },
        Task: task,
        BatonExecution: { Input: originalInput, StartTime: startDate },
        BatonState: parent.machine.stateContext,
      },
    });
    child.abort = () => {
      child.scope.halt.abort();
      execution.abort();
    };
    if (child.scope.halt.signal.aborted || m.stopping()) child.abort();
    let redriveFrom = redrive ?? previous?.redriveFrom;
    const history = (async () => {
      for await (const event of execution.eventLogs as AsyncGenerator<LibraryEvent>) {
        if (event.type === 'StateEntered' && info.processorStates.has(event.state.name)) {
          redriveFrom = { state: event.state.name, input: JSON.stringify(event.state.input ?? null) };
        }
        const entry = historyEntry(event, parent.machine.tasks);
        if (entry) pushEvent(holder, entry.type, entry.details, event.timestamp);
      }
    })().catch(() => undefined);

    let status: ChildStatus;
    let output: string | undefined;
    let error: string | undefined;
    let cause: string | undefined;
    try {
      const result = await execution.result;
      output = JSON.stringify(result ?? null);
      if (Buffer.byteLength(output) > MAX_PAYLOAD_BYTES) {
        status = 'FAILED';
        error = 'States.DataLimitExceeded';
        cause =
          'The state/task returned a result with a size exceeding the maximum number of bytes service limit.';
        output = undefined;
      } else {
        status = 'SUCCEEDED';
      }
    } catch (err) {
      if (parent.interrupted) return; // runs again after the restart
      if (child.abortedByMapRun || parent.over() || err instanceof ExecutionAbortedError) {
        status = 'ABORTED';
      } else if (err instanceof ExecutionTimeoutError) {
        status = 'TIMED_OUT';
        error = 'States.Timeout';
        cause = 'The execution ran longer than its TimeoutSeconds';
      } else {
        const failure = err instanceof ExecutionError ? err.cause : err;
        status = 'FAILED';
        error = failure instanceof Error ? failure.name : 'States.Runtime';
        cause = failure instanceof Error ? failure.message : String(failure);
      }
    }
    await history;
    if (parent.interrupted) return;
    const stopDate = new Date().toISOString();
    if (status === 'SUCCEEDED') {
      pushEvent(holder, 'ExecutionSucceeded', {
        executionSucceededEventDetails: { output, outputDetails: { truncated: false } },
      });
    } else if (status === 'ABORTED') {
      pushEvent(holder, 'ExecutionAborted', { executionAbortedEventDetails: {} });
    } else {
      const type = status === 'TIMED_OUT' ? 'ExecutionTimedOut' : 'ExecutionFailed';
      const key = status === 'TIMED_OUT' ? 'executionTimedOutEventDetails' : 'executionFailedEventDetails';
      pushEvent(holder, type, { [key]: { error, cause } });
    }
    const ended: ChildRecord = {
      index: line.index,
      name,
      items: line.items,
      status,
      input: line.input,
      ...(output !== undefined ? { output } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(cause !== undefined ? { cause } : {}),
      startDate,
      stopDate,
      redriveCount,
      ...(redriveFrom ? { redriveFrom } : {}),
      history: holder.history,
    };
    const { offset, length } = await m.log.write(ended);
    m.index.status[line.index] = CHILD_STATUS_CODE[status];
    m.index.offsets[line.index] = offset;
    m.index.lengths[line.index] = length;
    m.index.items[line.index] = line.items;
    m.count(status, line.items, 1);
    if ((status === 'FAILED' || status === 'TIMED_OUT') && !m.exceeded && m.thresholdExceeded()) {
      m.exceeded = true;
      for (const [index, other] of m.running) {
        if (index === line.index) continue;
        other.abortedByMapRun = true;
        other.abort();
      }
      m.wake();
    }
  }

  /** Ends the Map Run: its results, its record, the parent's events; its result or its error. */
  private async finish(m: ActiveMapRun): Promise<Json> {
    const { record, parent, info } = m;
    if (parent.interrupted) throw new ExecutionEndedError(); // stays RUNNING, resumed after a restart
    let failure: Failure | undefined =
      m.failure ?? (m.exceeded || m.thresholdExceeded() ? EXCEEDED : undefined);
    // Stopped (StopExecution), or ended meanwhile (its timeout, a failed Parallel branch).
    const aborted = parent.over();
    let output: Json | undefined;
    let resultsWritten = 0;
    if (!aborted && record.itemsReady && (info.writer || !failure)) {
      try {
        const written = await this.results(m);
        output = written.output;
        resultsWritten = written.count;
      } catch (err) {
        failure ??= failureFrom(err);
      }
    }
    const counts = record.itemsReady ? m.counts() : undefined;
    if (counts) {
      counts.itemCounts.resultsWritten = resultsWritten;
      counts.executionCounts.resultsWritten = resultsWritten;
      Object.assign(record, counts);
    }
    record.stopDate = new Date().toISOString();
    if (aborted) {
      record.status = 'ABORTED';
      record.error = 'States.Aborted';
      record.cause = 'The execution was stopped';
    } else if (failure) {
      record.status = 'FAILED';
      record.error = failure.error;
      record.cause = failure.cause;
      if (failure.terminal) record.terminal = true;
    } else {
      record.status = 'SUCCEEDED';
      record.output = JSON.stringify(output ?? null);
    }
    await this.opts.store.save(record);
    if (aborted) {
      this.opts.parentEvent(parent, 'MapRunAborted', {});
      throw new ExecutionEndedError();
    }
    if (failure) {
      this.opts.parentEvent(parent, 'MapRunFailed', {
        mapRunFailedEventDetails: { error: failure.error, cause: failure.cause },
      });
      throw failureOf(record);
    }
    this.opts.parentEvent(parent, 'MapRunSucceeded', {});
    return output ?? null;
  }

  /** The ResultWriter's files (or, without one, the result array), in item order. */
  private async results(m: ActiveMapRun): Promise<{ output: Json | undefined; count: number }> {
    const { record, info, call } = m;
    const { store } = this.opts;
    const reader = store.openChildren(record.id);
    try {
      if (!info.writer) {
        const inline = new InlineResults();
        for await (const line of store.spoolLines(record.id)) {
          const child = await this.lastRecord(m, reader, line.index);
          if (!child) continue;
          inline.add(
            child.status === 'SUCCEEDED'
              ? (JSON.parse(child.output ?? 'null') as Json)
              : childEntry(record, m.childArnPrefix, child),
          );
        }
        return { output: inline.result(), count: record.childCount };
      }
      const target = writerTarget(call.writer, record.id);
      const files: Record<ResultCategory, ArrayFile> = {
        SUCCEEDED: new ArrayFile(store.file(record.id, 'SUCCEEDED.part')),
        FAILED: new ArrayFile(store.file(record.id, 'FAILED.part')),
        PENDING: new ArrayFile(store.file(record.id, 'PENDING.part')),
      };
      let count = 0;
      try {
        for await (const line of store.spoolLines(record.id)) {
          const child = await this.lastRecord(m, reader, line.index);
          await files[categoryOf(child)].add(
            child ? childEntry(record, m.childArnPrefix, child) : pendingEntry(line.input),
          );
          count += 1;
        }
      } finally {
        await Promise.all(Object.values(files).map((f) => f.close()));
      }
      return { output: await uploadResults(this.opts.s3, record, target, files), count };
    } finally {
      await reader.close();
    }
  }

  private lastRecord(
    m: ActiveMapRun,
    reader: { read(offset: number, length: number): Promise<ChildRecord> },
    index: number,
  ): Promise<ChildRecord | undefined> {
    const offset = m.index?.offsets[index] ?? -1;
    if (offset < 0) return Promise.resolve(undefined);
    return reader.read(offset, m.index.lengths[index] as number);
  }
}

function statusOfCode(code: number): ChildStatus {
  const entry = Object.entries(CHILD_STATUS_CODE).find(([, c]) => c === code);
  return (entry?.[0] ?? 'FAILED') as ChildStatus;
}

/** A child's name: a UUID, the same for the same item of the same Map Run (across restarts). */
export function childName(record: MapRunRecord, index: number): string {
  return uuidFrom(`${record.mapRunArn}#${index}`);
}

function failureOf(record: MapRunRecord): TaskFailedError {
  const error = record.error ?? 'States.Runtime';
  const cause = record.cause ?? '';
  return record.terminal ? new TerminalTaskError(error, cause) : new TaskFailedError(error, cause);
}

function failureFrom(err: unknown): Failure {
  if (err instanceof TaskFailedError) {
    return {
      error: err.name,
      cause: err.message,
      ...(err instanceof TerminalTaskError ? { terminal: true } : {}),
    };
  }
  return {
    error: 'States.Runtime',
    cause: err instanceof Error ? err.message : String(err),
    terminal: true,
  };
}

async function* inlineItems(items: Json | undefined): AsyncGenerator<Json> {
  if (!Array.isArray(items)) {
    throw runtimeError('Input of Map state must be an array or ItemsPath property must point to an array');
  }
  yield* items;
}

/** ItemSelector, evaluated by the library (a Pass state) with `$$.Map.Item` in the context. */
async function select(
  info: DistributedMapInfo,
  input: Json,
  context: Record<string, unknown>,
  index: number,
  value: Json,
): Promise<Json> {
  const selector = info.selector;
  if (!selector) return value;
  try {
    return (await selector.run(input as never, {
      context: { ...context, Map: { Item: { Index: index, Value: value } } },
    }).result) as Json;
  } catch (err) {
    const failure = err instanceof ExecutionError ? err.cause : err;
    throw runtimeError(`ItemSelector: ${failure instanceof Error ? failure.message : String(failure)}`);
  }
}
