/**
 * The environment of every Baton function, one zod schema each: the stack sets it from these
 * (lib/aws/stack.ts passes an object typed by the schema's input, so a missing variable does not
 * compile) and the function reads it once, at its first invocation and before any work, with
 * `parseEnv` (a missing or malformed variable fails at once, naming the variable). Optional
 * variables are optional here; nothing falls back to an empty string.
 *
 * Not listed: the AWS runtime's own variables (AWS_REGION, AWS_ENDPOINT_URL_<SERVICE> ...), read
 * by the SDK, and a model config's `apiKeyEnv`, whose name the config chooses.
 */
import * as z from 'zod';
import { BatonError, ErrorNames } from './errors.js';

/** The environment could not be read: `issues` says which variable and why. */
export class EnvironmentError extends BatonError {
  readonly issues: string[];
  constructor(message: string, issues: string[], options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.InvalidEnvironment;
    this.issues = issues;
  }
}

const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** A resource name, ARN or URL the stack resolves. */
const Name = z.string().min(1, 'is empty');
/**
 * Optional JSON text: blank means unset, as its readers (modelConfigFromEnv, settingsFromEnv)
 * treat it; they validate the content.
 */
const OptionalJson = z
  .string()
  .refine((text) => text.trim() === '' || isJson(text), 'is not JSON')
  .optional();
const Json = z.string().refine(isJson, 'is not JSON');
const Url = z.url({ message: 'is not a URL' });

/**
 * The deployment's agents and how their functions are named: `BATON_AGENT_NAMES` (comma-separated)
 * and `BATON_AGENT_FUNCTION_PREFIX` (an agent's function is the prefix + its name, see
 * agentFunctionName in ids.ts). No name-to-ARN map: it would hit Lambda's 4 KB environment limit.
 */
const AgentFunctionVars = {
  BATON_AGENT_NAMES: Name,
  BATON_AGENT_FUNCTION_PREFIX: Name,
};

/** Set by BatonFunction on every function (Node options, the Powertools service name). */
const LambdaBase = {
  NODE_OPTIONS: z.string().optional(),
  POWERTOOLS_SERVICE_NAME: z.string().optional(),
};

/**
 * Every orchestrator function: the state store. The functions the state machine calls answer task
 * tokens, which need no state machine ARN (and cannot be given it: a dependency cycle).
 */
const OrchestratorBase = {
  ...LambdaBase,
  TABLE_NAME: Name,
};

/** The deployment's model (JSON ModelConfig); unset: the offline provider. */
const ModelConfigVar = { BATON_MODEL_CONFIG: OptionalJson };

export const PlannerEnv = z.object({
  ...OrchestratorBase,
  ...AgentFunctionVars,
  ...ModelConfigVar,
});
export const GateEnv = z.object(OrchestratorBase);
export const StepFailedEnv = z.object({ ...OrchestratorBase, ...AgentFunctionVars });
export const FinalizeEnv = z.object({
  ...OrchestratorBase,
  /** Where failed tasks are dead-lettered. */
  DEAD_LETTER_QUEUE_URL: Name,
});

/** Where the approval link-signing secrets are: SSM (AWS) or a file (local mode). */
const SigningSecretVars = {
  BATON_APPROVAL_SECRET_PARAM: Name.optional(),
  BATON_APPROVAL_SECRET_FILE: Name.optional(),
};

export const RequestApprovalEnv = z.object({
  ...OrchestratorBase,
  /** Base URL of approval links. */
  BATON_PUBLIC_URL: Url,
  /** Approvers are told through this SNS topic; unset (local mode): on the console. */
  APPROVAL_TOPIC_ARN: Name.optional(),
  ...SigningSecretVars,
});
export const ResolveApprovalEnv = z.object(OrchestratorBase);
/** The SQS intake worker: starts executions of STATE_MACHINE_ARN. */
export const IntakeEnv = z.object({ ...OrchestratorBase, STATE_MACHINE_ARN: Name });
/** The reconciler: execution status changes of STATE_MACHINE_ARN (EventBridge) end their tasks. */
export const ReconcileEnv = z.object({
  ...OrchestratorBase,
  STATE_MACHINE_ARN: Name,
  /** Where the tasks it fails are dead-lettered (the same queue as Finalize's). */
  DEAD_LETTER_QUEUE_URL: Name,
});

export const ApiEnv = z.object({
  ...LambdaBase,
  TABLE_NAME: Name,
  ARTIFACT_BUCKET: Name,
  INTAKE_QUEUE_URL: Name,
  STATE_MACHINE_ARN: Name,
  /** The deployment's agents, comma-separated. */
  BATON_AGENT_NAMES: Name,
  /** Base URL of approval links; unset: the request's own host. */
  BATON_PUBLIC_URL: Url.optional(),
  /** Local mode's bearer key (in AWS the HTTP API authorizes with IAM). */
  BATON_API_KEY: Name.optional(),
  /** The Baton config (registered agents) when BATON_AGENT_NAMES is not enough (local mode). */
  BATON_CONFIG: Name.optional(),
  ...SigningSecretVars,
});

/** The intake sweeper: QUEUED tasks whose start was never sent are sent again. */
export const SweepEnv = z.object({
  ...OrchestratorBase,
  INTAKE_QUEUE_URL: Name,
  /** How long a task stays QUEUED before its start is sent again (default: sweep.ts's). */
  SWEEP_AFTER_SECONDS: z.coerce.number().int().min(1).max(86_400).optional(),
});

/** The step runner: the data plane of the table and the bucket (no control plane, no deletes). */
export const RunnerEnv = z.object({ ...LambdaBase, TABLE_NAME: Name, ARTIFACT_BUCKET: Name });

/**
 * Fan-out steps (lambdas/orchestrator/fanout.ts): PrepareItems and CollectItems read and write the
 * artifact bucket (items objects, ResultWriter files, results.jsonl); ItemsFailed only the table.
 */
export const PrepareItemsEnv = z.object({
  ...OrchestratorBase,
  ARTIFACT_BUCKET: Name,
  /** Buckets an `s3://` items source may name, comma-separated (the stack's fanOutSourceBuckets). */
  FANOUT_SOURCE_BUCKETS: z.string().optional(),
});
export const CollectItemsEnv = z.object({ ...OrchestratorBase, ARTIFACT_BUCKET: Name });
export const ItemsFailedEnv = z.object(OrchestratorBase);
/** The item runner (lambdas/agents/item-runner.ts): the step runner's data plane, for items. */
export const ItemRunnerEnv = z.object({ ...LambdaBase, TABLE_NAME: Name, ARTIFACT_BUCKET: Name });

/** An agent function: no table, no bucket (the step runner does its reads and writes). */
export const AgentEnv = z.object({
  ...LambdaBase,
  /** This agent's settings (JSON, by agent name), read with the tool kinds its bundle carries. */
  BATON_AGENT_SETTINGS: Json,
  ...ModelConfigVar,
});

/** Every function's environment schema, by the handler it runs (`agent`: every agent function). */
export const FUNCTION_ENV = {
  api: ApiEnv,
  planner: PlannerEnv,
  gate: GateEnv,
  stepFailed: StepFailedEnv,
  finalize: FinalizeEnv,
  requestApproval: RequestApprovalEnv,
  resolveApproval: ResolveApprovalEnv,
  intake: IntakeEnv,
  reconcile: ReconcileEnv,
  sweep: SweepEnv,
  stepRunner: RunnerEnv,
  agent: AgentEnv,
  prepareItems: PrepareItemsEnv,
  collectItems: CollectItemsEnv,
  itemsFailed: ItemsFailedEnv,
  itemRunner: ItemRunnerEnv,
} as const;
export type FunctionName = keyof typeof FUNCTION_ENV;

/** What a function reads: the parsed environment of its schema. */
export type EnvOf<S extends z.ZodObject> = z.output<S>;

/**
 * Reads a function's environment with its schema. Unknown variables are ignored (the Lambda
 * runtime sets many); a missing or malformed one throws EnvironmentError naming it.
 */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  fn: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    return env[name] === undefined ? `${name} is not set` : `${name} ${issue.message}`;
  });
  throw new EnvironmentError(
    `The environment of ${fn} is invalid: ${issues.join('; ')}. The stack (lib/aws/stack.ts) or the local runtime sets it.`,
    issues,
    { cause: parsed.error },
  );
}
