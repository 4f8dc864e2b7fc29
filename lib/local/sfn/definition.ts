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
 * - Features the library cannot run faithfully are refused (InvalidDefinition).
 */

import { TerminalTaskError } from './library-errors.js';
import { isObject, type Json, type JsonObject, MAX_TIMER_SECONDS, SfnServiceError } from './types.js';

export type TaskTarget =
  | { kind: 'lambda-invoke' }
  | { kind: 'lambda-function'; functionName: string }
  | { kind: 'integration'; resource: string };

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

export function prepareDefinition(source: object): PreparedDefinition {
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
