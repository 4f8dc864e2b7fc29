/**
 * Definition preparation: turns the ASL that `cdk deploy` ships into the definition the library
 * runs, and records what the emulator needs to know about every Task state.
 *
 * - Every Task state (at any depth) runs through the library's `taskResourceLocalHandlers`, so
 *   the emulator, not the library, talks to Lambdas, and enforces task timeouts: the library
 *   evaluates TimeoutSecondsPath against the task's Parameters output (not the state input),
 *   overflows setTimeout past ~24.8 days and cannot tell us when it fires. Dynamic values reach
 *   the handler through extra Parameters fields (`WRAP`), which the library's own JSONPath
 *   evaluates against the effective input; `unwrapTaskInput` takes them out again.
 * - `$$.Execution.Input`/`StartTime` and `$$.State.*` are pointed at context entries we control
 *   (the library rebuilds the first per Map iteration and has no State object).
 * - ErrorEquals "States.Timeout" also matches States.HeartbeatTimeout, as in AWS.
 * - A Map state in Distributed mode (the library has none) becomes a Task stand-in whose handler
 *   runs its Map Run (`prepareDistributedMap`, distributed-map.ts).
 * - Features the library cannot run faithfully are refused (InvalidDefinition).
 */

import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { TerminalTaskError } from './library-errors.js';
import { isObject, type Json, type JsonObject, MAX_TIMER_SECONDS, SfnServiceError } from './types.js';

export type TaskTarget =
  | { kind: 'lambda-invoke' }
  | { kind: 'lambda-function'; functionName: string }
  | { kind: 'integration'; resource: string }
  | { kind: 'distributed-map'; map: DistributedMapInfo };

export type ReaderInputType = 'JSON' | 'JSONL' | 'CSV';

/**
 * A Map state in Distributed mode, as the emulator runs it (distributed-map.ts). In the definition
 * the library runs, the state is a Task stand-in (`prepareDistributedMap`) whose Parameters carry
 * every dynamic field of the Map (evaluated by the library against the state's effective input,
 * see `DISTRIBUTED_MAP_WRAP`); its InputPath, ResultSelector, ResultPath, OutputPath, Retry, Catch
 * and Next/End are the Map's own.
 */
export interface DistributedMapInfo {
  stateName: string;
  /** Label, else the state name: the Map Run ARN is `mapRun:<state machine>/<label>:<id>`. */
  label: string;
  executionType: 'STANDARD' | 'EXPRESS';
  /** The ItemProcessor, prepared like any nested machine; its top-level state names (for child redrives). */
  processor: JsonObject;
  processorStates: ReadonlySet<string>;
  /** Runs the ItemProcessor from its StartAt or, for a child redrive, from a given state. */
  childRunnable(startAt?: string): StateMachine;
  /** ItemSelector (or the older Parameters) as a Pass state's Parameters; undefined without one. */
  selector?: StateMachine;
  reader?: {
    resource: 'getObject' | 'listObjectsV2';
    inputType?: ReaderInputType;
    csvHeaderLocation: 'FIRST_ROW' | 'GIVEN';
    csvHeaders?: string[];
    csvDelimiter: string;
    maxItems?: number;
  };
  batcher?: { maxItemsPerBatch?: number; maxInputBytesPerBatch?: number };
  /** ResultWriter with Resource s3:putObject: its Parameters (Bucket, Prefix) come in the wrap. */
  writer: boolean;
  maxConcurrency?: number;
  toleratedFailurePercentage?: number;
  toleratedFailureCount?: number;
}

/** The fields of a Distributed Map's stand-in Parameters (all evaluated against the effective input). */
export interface DistributedMapCall {
  input: Json;
  items?: Json;
  reader?: Json;
  readerMaxItems?: Json;
  maxConcurrency?: Json;
  toleratedFailurePercentage?: Json;
  toleratedFailureCount?: Json;
  maxItemsPerBatch?: Json;
  maxInputBytesPerBatch?: Json;
  batchInput?: Json;
  writer?: Json;
}

export interface TaskInfo {
  stateName: string;
  resource: string;
  callback: boolean;
  target: TaskTarget;
  timeoutSeconds?: number;
  heartbeatSeconds?: number;
  /** Parameters were wrapped to evaluate TimeoutSecondsPath/HeartbeatSecondsPath (see prepareTask). */
  wrapped: boolean;
}

export interface PreparedDefinition {
  definition: JsonObject;
  tasks: Map<string, TaskInfo>;
  /** `$$.BatonState.<key>` objects standing in for `$$.State` (rewritten per state). */
  stateContext: Record<string, unknown>;
}

/** What a Task handler runs with, once the wrapped fields are taken out of its input. */
export interface TaskCall {
  parameters: Json;
  timeoutSeconds: number;
  heartbeatSeconds: number | undefined;
}

const LAMBDA_INVOKE = /^arn:[^:]+:states:::lambda:invoke$/;
const LAMBDA_FUNCTION_ARN = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/;

const WRAP = {
  params: '__batonParameters',
  input: '__batonInput',
  timeout: '__batonTimeoutSeconds',
  heartbeat: '__batonHeartbeatSeconds',
} as const;
const NESTED_MACHINE_FIELDS: ReadonlySet<string> = new Set(['Iterator', 'ItemProcessor', 'Branches']);
const LITERAL_FIELDS: ReadonlySet<string> = new Set(['Result', 'Comment']);

export function invalidDefinition(message: string, cause?: unknown): SfnServiceError {
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

/** Fields only a Map state in Distributed mode may have (checked by `prepareDistributedMap`). */
const DISTRIBUTED_ONLY = ['ItemReader', 'ItemBatcher', 'ResultWriter', 'Label'] as const;

function isDistributedMap(state: JsonObject): boolean {
  const processor = state.ItemProcessor;
  return (
    state.Type === 'Map' &&
    isObject(processor) &&
    isObject(processor.ProcessorConfig) &&
    processor.ProcessorConfig.Mode === 'DISTRIBUTED'
  );
}

function rejectUnsupported(scope: JsonObject, where: string): void {
  if (scope.QueryLanguage === 'JSONata') {
    throw invalidDefinition(`${where}: QueryLanguage JSONata is not supported by the local emulator`);
  }
  if ('Assign' in scope) throw invalidDefinition(`${where}: Assign is not supported by the local emulator`);
  if (isDistributedMap(scope)) return;
  for (const field of DISTRIBUTED_ONLY) {
    if (field in scope)
      throw invalidDefinition(`${where}: ${field} is only valid on a Map state in DISTRIBUTED mode`);
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

  // Task timeouts are enforced by the emulator (see the module comment).
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

/** The Resource of a Distributed Map's Task stand-in (never called: its handler is the emulator's). */
const DISTRIBUTED_MAP_RESOURCE = 'arn:aws:states:::baton.local:distributedMap';
const S3_GET_OBJECT = /^arn:[^:]+:states:::s3:getObject$/;
const S3_LIST_OBJECTS = /^arn:[^:]+:states:::s3:listObjectsV2$/;
const S3_PUT_OBJECT = /^arn:[^:]+:states:::s3:putObject$/;
const CSV_DELIMITERS: Readonly<Record<string, string>> = {
  COMMA: ',',
  PIPE: '|',
  SEMICOLON: ';',
  SPACE: ' ',
  TAB: '\t',
};
/** Map-state fields the stand-in Task keeps as they are (the library applies them). */
const STAND_IN_FIELDS = [
  'Comment',
  'InputPath',
  'OutputPath',
  'ResultPath',
  'ResultSelector',
  'Retry',
  'Catch',
  'Next',
  'End',
] as const;
const MAP_FIELDS: ReadonlySet<string> = new Set([
  ...STAND_IN_FIELDS,
  'Type',
  'ItemProcessor',
  'ItemsPath',
  'ItemSelector',
  'Parameters',
  'ItemReader',
  'ItemBatcher',
  'ResultWriter',
  'Label',
  'MaxConcurrency',
  'MaxConcurrencyPath',
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
  'ToleratedFailureCount',
  'ToleratedFailureCountPath',
  // asl-validator writes QueryLanguage: JSONPath into the states it checks (JSONata is refused above).
  'QueryLanguage',
]);
/**
 * The library lets ErrorEquals "States.TaskFailed" match any error of a Task state, which the
 * stand-in is; on a Map state it matches nothing in AWS (a Map Run fails with its own error
 * names), so it is replaced by a name no error has.
 */
const TASK_FAILED_ON_MAP = 'States.TaskFailed (on a Map state: matches nothing)';

function only(where: string, value: Json | undefined, fields: readonly string[]): void {
  if (value === undefined) return;
  if (!isObject(value)) throw invalidDefinition(`${where} must be an object`);
  for (const key of Object.keys(value)) {
    if (!fields.includes(key))
      throw invalidDefinition(`${where}.${key} is not supported by the local emulator`);
  }
}

function staticNumber(where: string, value: Json | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || value < min || value > max) {
    throw invalidDefinition(`${where} must be a number from ${min} to ${max}`);
  }
  return value;
}

function pathField(state: JsonObject, field: string): string | undefined {
  const value = state[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidDefinition(`${field} must be a reference path`);
  return value;
}

/**
 * Turns a Map state in Distributed mode into the Task stand-in the library runs (in place), and
 * returns what the emulator needs to run its Map Runs. Sources:
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html and the pages
 * it links (ItemReader, ItemBatcher, ResultWriter, tolerated failure threshold).
 */
function prepareDistributedMap(name: string, state: JsonObject): TaskInfo {
  const where = `Map state ${name}`;
  for (const key of Object.keys(state)) {
    if (!MAP_FIELDS.has(key))
      throw invalidDefinition(`${where}: ${key} is not supported by the local emulator`);
  }
  const processor = state.ItemProcessor as JsonObject;
  const processorConfig = processor.ProcessorConfig as JsonObject;
  const executionType = processorConfig.ExecutionType ?? 'STANDARD';
  if (executionType !== 'STANDARD' && executionType !== 'EXPRESS') {
    throw invalidDefinition(`${where}: ProcessorConfig.ExecutionType must be STANDARD or EXPRESS`);
  }
  const wrapper: JsonObject = { 'input.$': '$' };
  const info: DistributedMapInfo = {
    stateName: name,
    label: typeof state.Label === 'string' ? state.Label : name,
    executionType,
    processor,
    processorStates: new Set(Object.keys(processor.States as JsonObject)),
    childRunnable: childRunnables(processor),
    writer: false,
  };

  const reader = state.ItemReader;
  if (reader !== undefined) {
    only(`${where}: ItemReader`, reader, ['Resource', 'Parameters', 'ReaderConfig']);
    const spec = reader as JsonObject;
    const resource = String(spec.Resource);
    only(`${where}: ItemReader.ReaderConfig`, spec.ReaderConfig, [
      'InputType',
      'CSVHeaderLocation',
      'CSVHeaders',
      'CSVDelimiter',
      'MaxItems',
      'MaxItemsPath',
    ]);
    const config = (spec.ReaderConfig ?? {}) as JsonObject;
    if (state.ItemsPath !== undefined) {
      throw invalidDefinition(
        `${where}: ItemsPath with an ItemReader is not supported by the local emulator`,
      );
    }
    let inputType: ReaderInputType | undefined;
    if (S3_GET_OBJECT.test(resource)) {
      if (config.InputType !== 'JSON' && config.InputType !== 'JSONL' && config.InputType !== 'CSV') {
        throw invalidDefinition(
          `${where}: ItemReader.ReaderConfig.InputType ${JSON.stringify(config.InputType)} is not supported by the local emulator (JSON, JSONL, CSV)`,
        );
      }
      inputType = config.InputType;
    } else if (!S3_LIST_OBJECTS.test(resource)) {
      throw invalidDefinition(
        `${where}: ItemReader.Resource ${resource} is not supported by the local emulator (s3:getObject, s3:listObjectsV2)`,
      );
    }
    const headerLocation = config.CSVHeaderLocation ?? 'FIRST_ROW';
    if (headerLocation !== 'FIRST_ROW' && headerLocation !== 'GIVEN') {
      throw invalidDefinition(`${where}: CSVHeaderLocation must be FIRST_ROW or GIVEN`);
    }
    const headers = config.CSVHeaders;
    if (
      headerLocation === 'GIVEN' &&
      (!Array.isArray(headers) || !headers.every((h) => typeof h === 'string'))
    ) {
      throw invalidDefinition(`${where}: CSVHeaderLocation GIVEN needs CSVHeaders, an array of strings`);
    }
    const delimiter = CSV_DELIMITERS[String(config.CSVDelimiter ?? 'COMMA')];
    if (delimiter === undefined) {
      throw invalidDefinition(
        `${where}: CSVDelimiter must be one of ${Object.keys(CSV_DELIMITERS).join(', ')}`,
      );
    }
    info.reader = {
      resource: inputType ? 'getObject' : 'listObjectsV2',
      ...(inputType ? { inputType } : {}),
      csvHeaderLocation: headerLocation,
      ...(headerLocation === 'GIVEN' ? { csvHeaders: headers as string[] } : {}),
      csvDelimiter: delimiter,
    };
    const maxItems = staticNumber(`${where}: MaxItems`, config.MaxItems, 0, 100_000_000);
    if (maxItems !== undefined) info.reader.maxItems = maxItems;
    const maxItemsPath = pathField(config, 'MaxItemsPath');
    if (maxItemsPath) wrapper['readerMaxItems.$'] = maxItemsPath;
    wrapper.reader = (spec.Parameters ?? {}) as Json;
  } else {
    const itemsPath = pathField(state, 'ItemsPath');
    if (itemsPath) wrapper['items.$'] = itemsPath;
  }

  const selector = state.ItemSelector ?? state.Parameters;
  if (selector !== undefined) {
    info.selector = new StateMachine(
      {
        StartAt: 'ItemSelector',
        States: { ItemSelector: { Type: 'Pass', Parameters: selector, End: true } },
      } as never,
      { validationOptions: { noValidate: true } },
    );
  }

  const batcher = state.ItemBatcher;
  if (batcher !== undefined) {
    only(`${where}: ItemBatcher`, batcher, [
      'MaxItemsPerBatch',
      'MaxItemsPerBatchPath',
      'MaxInputBytesPerBatch',
      'MaxInputBytesPerBatchPath',
      'BatchInput',
    ]);
    const spec = batcher as JsonObject;
    info.batcher = {};
    const items = staticNumber(`${where}: MaxItemsPerBatch`, spec.MaxItemsPerBatch, 1, 100_000_000);
    if (items !== undefined) info.batcher.maxItemsPerBatch = items;
    const bytes = staticNumber(`${where}: MaxInputBytesPerBatch`, spec.MaxInputBytesPerBatch, 1, 262_144);
    if (bytes !== undefined) info.batcher.maxInputBytesPerBatch = bytes;
    const itemsPath = pathField(spec, 'MaxItemsPerBatchPath');
    if (itemsPath) wrapper['maxItemsPerBatch.$'] = itemsPath;
    const bytesPath = pathField(spec, 'MaxInputBytesPerBatchPath');
    if (bytesPath) wrapper['maxInputBytesPerBatch.$'] = bytesPath;
    if (spec.BatchInput !== undefined) wrapper.batchInput = spec.BatchInput;
    if (!itemsPath && !bytesPath && items === undefined && bytes === undefined) {
      throw invalidDefinition(
        `${where}: ItemBatcher needs MaxItemsPerBatch(Path) or MaxInputBytesPerBatch(Path)`,
      );
    }
  }

  const writer = state.ResultWriter;
  if (writer !== undefined) {
    only(`${where}: ResultWriter`, writer, ['Resource', 'Parameters']);
    const spec = writer as JsonObject;
    if (!S3_PUT_OBJECT.test(String(spec.Resource)) || !isObject(spec.Parameters)) {
      throw invalidDefinition(
        `${where}: ResultWriter needs Resource arn:aws:states:::s3:putObject and Parameters (Bucket, Prefix); WriterConfig is not supported by the local emulator`,
      );
    }
    info.writer = true;
    wrapper.writer = spec.Parameters;
  }

  const maxConcurrency = staticNumber(`${where}: MaxConcurrency`, state.MaxConcurrency, 0, 10_000);
  if (maxConcurrency !== undefined) info.maxConcurrency = maxConcurrency;
  const percentage = staticNumber(
    `${where}: ToleratedFailurePercentage`,
    state.ToleratedFailurePercentage,
    0,
    100,
  );
  if (percentage !== undefined) info.toleratedFailurePercentage = percentage;
  const count = staticNumber(
    `${where}: ToleratedFailureCount`,
    state.ToleratedFailureCount,
    0,
    Number.MAX_SAFE_INTEGER,
  );
  if (count !== undefined) info.toleratedFailureCount = count;
  for (const [field, key] of [
    ['MaxConcurrencyPath', 'maxConcurrency'],
    ['ToleratedFailurePercentagePath', 'toleratedFailurePercentage'],
    ['ToleratedFailureCountPath', 'toleratedFailureCount'],
  ] as const) {
    const path = pathField(state, field);
    if (path) wrapper[`${key}.$`] = path;
  }

  // A Map state has no timeout of its own in AWS (its children's states may have theirs), so the
  // stand-in gets the longest timer: without one the library's 60 s Task default would cut off
  // a Map Run longer than a minute.
  const standIn: JsonObject = {
    Type: 'Task',
    Resource: DISTRIBUTED_MAP_RESOURCE,
    Parameters: wrapper,
    TimeoutSeconds: MAX_TIMER_SECONDS,
  };
  for (const field of STAND_IN_FIELDS) {
    const value = state[field];
    if (value !== undefined) standIn[field] = value;
  }
  for (const field of ['Retry', 'Catch'] as const) {
    const rules = standIn[field];
    if (!Array.isArray(rules)) continue;
    for (const rule of rules) {
      if (isObject(rule) && Array.isArray(rule.ErrorEquals)) {
        rule.ErrorEquals = rule.ErrorEquals.map((e) => (e === 'States.TaskFailed' ? TASK_FAILED_ON_MAP : e));
      }
    }
  }
  for (const key of Object.keys(state)) delete state[key];
  Object.assign(state, standIn);
  return {
    stateName: name,
    resource: DISTRIBUTED_MAP_RESOURCE,
    callback: false,
    target: { kind: 'distributed-map', map: info },
    wrapped: false,
  };
}

function childRunnables(processor: JsonObject): (startAt?: string) => StateMachine {
  const cache = new Map<string, StateMachine>();
  return (startAt) => {
    const key = startAt ?? String(processor.StartAt);
    let runnable = cache.get(key);
    if (!runnable) {
      const { ProcessorConfig: _config, ...definition } = processor;
      runnable = new StateMachine({ ...definition, StartAt: key } as unknown as StateMachineDefinition, {
        validationOptions: { noValidate: true },
      });
      cache.set(key, runnable);
    }
    return runnable;
  };
}

export function prepareDefinition(source: object): PreparedDefinition {
  const definition = structuredClone(source) as JsonObject;
  const tasks = new Map<string, TaskInfo>();
  const stateContext: Record<string, unknown> = {};
  let stateCount = 0;

  const visitMachine = (machine: Json | undefined, where: string, inDistributed: boolean): void => {
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
      } else if (state.Type === 'Map' && isDistributedMap(state)) {
        if (inDistributed) {
          throw invalidDefinition(
            `Map state ${name}: a Distributed Map inside a Distributed Map's ItemProcessor is not supported by the local emulator`,
          );
        }
        if (tasks.has(name)) throw invalidDefinition(`State name ${name} is used more than once`);
        visitMachine(state.ItemProcessor, `Map state ${name}`, true);
        tasks.set(name, prepareDistributedMap(name, state));
      } else if (state.Type === 'Map') {
        visitMachine(state.ItemProcessor ?? state.Iterator, `Map state ${name}`, inDistributed);
      } else if (state.Type === 'Parallel') {
        const branches = Array.isArray(state.Branches) ? state.Branches : [];
        for (const branch of branches) visitMachine(branch, `Parallel state ${name}`, inDistributed);
      } else if (state.Type === 'Wait' && typeof state.Seconds === 'number') {
        state.Seconds = Math.min(state.Seconds, MAX_TIMER_SECONDS);
      }
    }
  };

  visitMachine(definition, 'State machine', false);
  if (typeof definition.TimeoutSeconds === 'number') {
    definition.TimeoutSeconds = Math.min(definition.TimeoutSeconds, MAX_TIMER_SECONDS);
  }
  return { definition, tasks, stateContext };
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

/** A Task handler's input without the fields `prepareTask` wrapped into it, and its timeouts. */
export function unwrapTaskInput(info: TaskInfo, input: Json, defaultTimeoutSeconds: number): TaskCall {
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
  return { parameters, timeoutSeconds: timeoutSeconds ?? defaultTimeoutSeconds, heartbeatSeconds };
}

/** `arn:aws:lambda:r:a:function:Name[:qualifier]`, `a:function:Name`, `Name:qualifier` → `Name`. */
export function lambdaFunctionName(ref: string): string {
  const fromArn = /(?:^|:)function:([^:]+)/.exec(ref);
  if (fromArn?.[1]) return fromArn[1];
  return ref.split(':')[0] ?? ref;
}

export function lambdaInvokeParameters(
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
