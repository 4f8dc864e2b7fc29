/**
 * Typed glue between the Lambda contracts (lambdas/core/states.ts) and the definition: JSONPaths
 * into the execution state that know the schema of what they point at, payloads whose keys are
 * the Lambda's input keys, and result selectors whose keys are the Lambda's output keys.
 *
 *   payload(GateInput, { taskId: step.at('taskId'), ..., taskToken: TASK_TOKEN })
 *     - a key the input schema does not have, or a missing required key: a TypeScript error;
 *     - a path to a number where the field is a string (or the other way round): a TypeScript
 *       error; at synth the path becomes sfn.JsonPath.stringAt / numberAt / listAt / objectAt by
 *       the schema of the field it points at.
 *   selectResult(AttemptFailureDecision) -> { 'retry.$': '$.Payload.retry', ... }
 *
 * The execution state itself is described by zod schemas (TaskState, StepState) built from the
 * Lambda outputs stored in it, so `step.at('retry').at('nextAttempt')` follows a rename too.
 */
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { z } from 'zod';
import { BatonError, ErrorNames } from '../../lambdas/core/errors.js';
import { ExecutionInput } from '../../lambdas/core/schemas.js';
import {
  AgentResult,
  AttemptFailureDecision,
  CaughtError,
  FinalizeOutput,
  GateRelease,
  PlannedItem,
  PlanOutput,
  PreparedItems,
  Resolution,
} from '../../lambdas/core/states.js';

/** Removes `.optional()` / `.nullable()` wrappers: a path that is read is present by construction. */
type Unwrap<S> =
  S extends z.ZodOptional<infer I> ? Unwrap<I> : S extends z.ZodNullable<infer I> ? Unwrap<I> : S;
type ShapeOf<S> = Unwrap<S> extends z.ZodObject<infer Shape> ? Shape : never;

/** What a schema's values are (`never` for what is not a schema). */
type ValueOf<S> = S extends z.core.$ZodType ? z.output<S> : never;

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return unwrap(schema.unwrap());
  return schema;
}

const TASK_TOKEN_PATH = '$$.Task.Token';

/** A definition that does not fit a Lambda's contract, found at synth. */
export class ContractMismatchError extends BatonError {
  constructor(message: string) {
    super(message);
    this.name = ErrorNames.ContractMismatch;
  }
}

/** A JSONPath (into the state or the context object) whose value has the schema `S`. */
export class Ref<S> {
  /** Type only: what the path holds (payload fields compare it with the input field's type). */
  declare readonly value: ValueOf<S>;
  private constructor(
    /** The schema of the value at the path (S at run time). */
    readonly schema: z.core.$ZodType,
    readonly path: string,
  ) {}

  /** The value with schema `schema` at `path`. */
  static of<S extends z.core.$ZodType>(schema: S, path: string): Ref<S> {
    return new Ref<S>(schema, path);
  }

  /** The field `key` of the object at this path. */
  at<K extends keyof ShapeOf<S> & string>(key: K): Ref<Unwrap<ShapeOf<S>[K]>> {
    const object = unwrap(this.schema);
    const field = object instanceof z.ZodObject ? object.shape[key] : undefined;
    if (!field) throw new ContractMismatchError(`${this.path} has no field "${key}"`);
    return new Ref<Unwrap<ShapeOf<S>[K]>>(unwrap(field), `${this.path}.${key}`);
  }

  /** The path as a CDK field: the `sfn.JsonPath` accessor that matches the schema's type. */
  toField(): unknown {
    if (this.path === TASK_TOKEN_PATH) return sfn.JsonPath.taskToken;
    const s = unwrap(this.schema);
    if (s instanceof z.ZodString || s instanceof z.ZodEnum) return sfn.JsonPath.stringAt(this.path);
    if (s instanceof z.ZodLiteral && typeof s.value === 'string') return sfn.JsonPath.stringAt(this.path);
    if (s instanceof z.ZodNumber) return sfn.JsonPath.numberAt(this.path);
    if (s instanceof z.ZodArray && unwrap(s.element) instanceof z.ZodString)
      return sfn.JsonPath.listAt(this.path);
    // Booleans, objects and lists of objects: any JSON value (the CDK has no booleanAt).
    return sfn.JsonPath.objectAt(this.path);
  }
}

/** The task token of a `.waitForTaskToken` state. */
export const TASK_TOKEN = Ref.of(z.string().min(1), TASK_TOKEN_PATH);

/** A payload field: a path to a value of the field's type, or a constant of that type. */
type FieldValue<T> = { readonly value: T; toField(): unknown } | T;

/** The payload of a Lambda whose input schema is `S`: its keys (optional ones may be left out), typed. */
export type PayloadOf<S extends z.ZodObject> = {
  [K in keyof z.input<S>]: FieldValue<Exclude<z.input<S>[K], undefined>>;
};

/**
 * The payload of a state that invokes a Lambda with input schema `input`. Keys and value types
 * are checked by the compiler; constants are parsed with their field's schema at synth.
 */
export function payload<S extends z.ZodObject>(input: S, fields: PayloadOf<S>): Record<string, unknown> {
  const shape: Record<string, z.core.$ZodType> = input.shape;
  return Object.fromEntries(
    Object.entries(fields as Record<string, unknown>).map(([key, value]) => {
      const field = shape[key];
      if (!field) throw new ContractMismatchError(`The payload key "${key}" is not in the input schema`);
      if (value instanceof Ref) return [key, value.toField()];
      const parsed = z.safeParse(field, value);
      if (!parsed.success)
        throw new ContractMismatchError(
          `The payload constant ${key}=${JSON.stringify(value)} breaks its schema`,
        );
      return [key, value];
    }),
  );
}

/** A ResultSelector that keeps the named fields (default: all) of a Lambda's output. */
export function selectResult<S extends z.ZodObject, K extends keyof z.output<S> & string>(
  output: S,
  keys?: readonly K[],
): Record<string, string> {
  const names = keys ?? (Object.keys(output.shape) as K[]);
  return Object.fromEntries(names.map((k) => [`${k}.$`, `$.Payload.${k}`]));
}

/* ------------------------------------------------------------ the execution's state */

/** What RunAgent / RunFallback keep of the agent's result (`$.agentResult`). */
export const AGENT_RESULT_KEYS = ['attempt'] as const;

/** The top-level state: the execution input plus what its states add. */
export const TaskState = ExecutionInput.extend({
  /** Plan's result (all of PlanOutput). */
  plan: PlanOutput,
  /** What a Catch put there: the failure FinalizeAfterError records. */
  error: CaughtError.optional(),
  /** A plan gate's failure (rejection, timeout), for ResolvePlanApproval. */
  approvalError: CaughtError.optional(),
  approvalResolution: Resolution.optional(),
  /** Finalize's result. */
  outcome: FinalizeOutput.optional(),
});

/** One step's iteration state as the Map's ItemSelector builds it. */
export const StepIteration = z.object({
  taskId: z.string(),
  run: z.number().int(),
  stepId: z.string(),
  agentFunction: z.string(),
  timeoutSeconds: z.number().int(),
  attempt: z.number().int().min(1),
  approval: z.boolean(),
  /** A fan-out step (lib/workflow/fan-out.ts). */
  forEach: z.boolean(),
  /** The step's dependencies for its gate (PlannedItem.dependsOn). */
  dependsOn: z.array(z.string()).nullable(),
  /** The Plan state wrote the step's StepWaiting (PlannedItem.waitRecorded). */
  waitRecorded: z.boolean(),
  approvalTimeoutSeconds: z.number().int(),
  dependencyTimeoutSeconds: z.number().int().min(1),
});

/** One step's iteration state, with what its states add. */
export const StepState = StepIteration.extend({
  /** AwaitDependencies' result: what the release sent with the task token. */
  gate: GateRelease.optional(),
  /** StepFailed's decision (RecordAttemptFailure, FallbackFailed). */
  retry: AttemptFailureDecision.optional(),
  agentResult: AgentResult.pick({ attempt: true }).optional(),
  error: CaughtError.optional(),
  approvalError: CaughtError.optional(),
  approvalResolution: Resolution.optional(),
  /** PrepareItems' result (a fan-out step). */
  items: PreparedItems.optional(),
  /** What the Distributed Map's ResultWriter wrote (its manifest), kept by RunItems' ResultSelector. */
  itemsRun: z.object({ manifestKey: z.string() }).optional(),
  /** What RunItems' Catch put there: the Distributed Map's failure. */
  itemsError: CaughtError.optional(),
});

/** The top-level state (`$`). */
export const task = Ref.of(TaskState, '$');
/** A step iteration's state (`$` inside the Map). */
export const step = Ref.of(StepState, '$');
/** The task's trace id, from the execution input (the context object: inside the Map too). */
export const executionTraceId = Ref.of(z.string(), '$$.Execution.Input.traceId');
/** The references every task-level payload starts with. */
export const taskRef = { taskId: task.at('taskId'), run: task.at('run'), traceId: executionTraceId };
/** The references every step-level payload starts with (inside the Map). */
export const stepRef = {
  taskId: step.at('taskId'),
  run: step.at('run'),
  stepId: step.at('stepId'),
  traceId: executionTraceId,
};
/** The current Map item (`$$.Map.Item.Value`): one of Plan's items. */
export const mapItem = Ref.of(PlannedItem, '$$.Map.Item.Value');

/** A Choice rule: the value at `ref` equals `value` (of the type the schema says is there). */
export function equals<S>(ref: Ref<S>, value: ValueOf<S> & (string | boolean | number)): sfn.Condition {
  if (typeof value === 'string') return sfn.Condition.stringEquals(ref.path, value);
  if (typeof value === 'boolean') return sfn.Condition.booleanEquals(ref.path, value);
  return sfn.Condition.numberEquals(ref.path, value);
}
