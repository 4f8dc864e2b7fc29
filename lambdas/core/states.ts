/**
 * The contract of every Lambda the state machine calls: one input and one output schema each.
 * The use cases parse their input with these schemas and return the output type inferred from
 * them; the handlers check the returned value against the output schema; the definition
 * (lib/workflow/) builds its payloads and result selectors from the same schemas, so renaming a
 * field here breaks the build (and test/cdk/contracts.test.ts) until both sides agree.
 * Pure: no aws-cdk-lib, no AWS SDK (Lambda code parses with it).
 */
import * as z from 'zod';
import { ApprovalKind } from './approvals.js';
import { ErrorNames } from './errors.js';
import { FanOutItem, ItemOutcome } from './fanout.js';
import { ExecutionInput } from './schemas.js';

/** A Lambda's contract: what the state passes in (Payload) and what the Lambda returns. */
export interface StateContract<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  input: I;
  output: O;
}

/* ----------------------------------------------------------------------- shared parts */

/** What a Catch puts at its ResultPath: `{ Error, Cause }`. */
export const CaughtError = z.object({ Error: z.string(), Cause: z.string().optional() });
export type CaughtError = z.infer<typeof CaughtError>;

/** One attempt of one step: the references every step-phase Lambda receives. */
export const StepRef = z.object({
  taskId: z.string(),
  run: z.number().int(),
  stepId: z.string(),
  attempt: z.number().int().min(1),
  /** The task's trace id (for logs and spans; the store's task record is the truth). */
  traceId: z.string().optional(),
});
export type StepRef = z.infer<typeof StepRef>;

/** Why the primary agent failed, handed to the fallback agent. */
export const FallbackFailure = z.object({ agent: z.string(), name: z.string(), message: z.string() });
export type FallbackFailure = z.infer<typeof FallbackFailure>;

/* --------------------------------------------------------------------------- Plan */

/** One Map item: what a step iteration needs to run (references and small numbers only). */
export const PlannedItem = z.object({
  stepId: z.string(),
  agentFunction: z.string(),
  timeoutSeconds: z.number().int(),
  firstAttempt: z.number().int().min(1),
  /** The step waits for an approval before its agent runs. */
  approval: z.boolean(),
  /** A fan-out step (`forEach`): its agent runs once per item, as a Distributed Map. */
  forEach: z.boolean(),
  /**
   * The step's dependencies, for its gate (which then needs no plan to park or run); null when
   * the plan's dependency lists together are over `CARRIED_DEPENDENCIES_CHARS` (the gate reads
   * the plan then), so the items stay far below the execution state's 256 KB.
   */
  dependsOn: z.array(z.string()).nullable(),
  /**
   * The step's StepWaiting is in the trail already: the Plan state wrote it with the PlanCreated
   * (a first run without a plan gate, for each step with dependencies), so its gate writes none.
   */
  waitRecorded: z.boolean(),
  /** Its approval and review gates' timeout (TimeoutSecondsPath). */
  approvalTimeoutSeconds: z.number().int(),
  /**
   * How long AwaitDependencies waits (TimeoutSecondsPath): the worst case of the step's slowest
   * dependency chain, capped at the execution's limit (lambdas/core/bounds.ts).
   */
  dependencyTimeoutSeconds: z.number().int().min(1),
});
export type PlannedItem = z.infer<typeof PlannedItem>;

/** The most characters of dependency lists (JSON) a plan's Map items carry (PlannedItem.dependsOn). */
export const CARRIED_DEPENDENCIES_CHARS = 32 * 1024;

export const PlanOutput = z.object({
  items: z.array(PlannedItem),
  maxConcurrency: z.number().int(),
  /** The plan waits for an approval before any step runs (`policy.requirePlanApproval`). */
  requireApproval: z.boolean(),
  approvalTimeoutSeconds: z.number().int(),
});
export type PlanOutput = z.infer<typeof PlanOutput>;

/** Plan: the explicit plan, or one made from the goal; Map items in topological order. */
export const PlanContract = { input: ExecutionInput, output: PlanOutput } satisfies StateContract;

/* --------------------------------------------------------------- AwaitDependencies */

export const GateInput = z.object({
  taskId: z.string(),
  run: z.number().int(),
  stepId: z.string(),
  taskToken: z.string().min(1),
  traceId: z.string().optional(),
  /**
   * The definition catches the gate's routes (gateRoute): stored with the token, so that whoever
   * releases the gate answers with them. Absent in an execution started on an older definition
   * (its Proceed Choice reads the task success `{ action }`), which is answered that way.
   */
  routes: z.literal(true).optional(),
  /**
   * The step's dependencies and routing as its Map item carries them (PlannedItem), so the gate
   * needs no plan to park or to run: a root step's gate (no dependencies) stores no token either,
   * since nobody but itself answers it. Null or absent (a plan too large to carry them, an older
   * definition): the gate reads the plan.
   */
  dependsOn: z.array(z.string()).nullable().optional(),
  approval: z.boolean().optional(),
  forEach: z.boolean().optional(),
  /** The Plan state wrote the step's StepWaiting (PlannedItem.waitRecorded); absent: the gate writes it when it parks. */
  waitRecorded: z.boolean().optional(),
});
export type GateInput = z.infer<typeof GateInput>;

/** What the gate Lambda returns (Step Functions waits for the token, so it discards this). */
export const GateOutput = z.object({ registered: z.literal(true) });
export type GateOutput = z.infer<typeof GateOutput>;

export const GateAction = z.enum(['run', 'skip', 'done']);
export type GateAction = z.infer<typeof GateAction>;
/**
 * A StepStarted number its releaser reserved for a released step, in the releaser's own
 * completion reservation (right after its StepSucceeded), and when (lambdas/agents/runner.ts).
 */
export const CarriedStart = z.object({ seq: z.number().int().min(1), at: z.string() });
export type CarriedStart = z.infer<typeof CarriedStart>;
/**
 * What whoever releases a parked step sends with SendTaskSuccess: the AwaitDependencies result.
 * `started`: the step's StepStarted number, when its releaser reserved one.
 */
export const GateRelease = z.object({ action: GateAction, started: CarriedStart.optional() });
export type GateRelease = z.infer<typeof GateRelease>;

/** How a step's iteration goes on after its gate (the Map item's `approval` and `forEach`). */
export interface StepRouting {
  approval: boolean;
  forEach: boolean;
}

/** A plan step's routing, as its Map item carries it. */
export function routingOf(step: { approval?: string; forEach?: unknown }): StepRouting {
  return { approval: step.approval === 'before', forEach: step.forEach !== undefined };
}

/**
 * How a released gate leaves AwaitDependencies. A step that simply runs (`run`, no approval, no
 * fan-out) gets the task success, and AwaitDependencies' Next is RunAgent: its happy path is two
 * states. Every other way out is a route: the task failure of the token with the route's name
 * (ErrorNames.Gate*), which the iteration catches into that route's first state, so no step's
 * path has a Choice state. Undefined: the plain run.
 */
export function gateRoute(
  action: GateAction,
  step: StepRouting,
): { error: GateRouteName; cause: string } | undefined {
  if (action !== 'run')
    return {
      error: ErrorNames.GateNotRun,
      cause: JSON.stringify({ action, why: action === 'skip' ? 'a dependency failed' : 'done before' }),
    };
  if (step.approval && step.forEach)
    return {
      error: ErrorNames.GateFanOutApproval,
      cause: JSON.stringify({ action, approval: true, forEach: true }),
    };
  if (step.approval)
    return { error: ErrorNames.GateApproval, cause: JSON.stringify({ action, approval: true }) };
  if (step.forEach) return { error: ErrorNames.GateFanOut, cause: JSON.stringify({ action, forEach: true }) };
  return undefined;
}

export type GateRouteName =
  | typeof ErrorNames.GateNotRun
  | typeof ErrorNames.GateApproval
  | typeof ErrorNames.GateFanOut
  | typeof ErrorNames.GateFanOutApproval;

/** AwaitDependencies (.waitForTaskToken): registers the token, releases at once if it can. */
export const GateContract = { input: GateInput, output: GateOutput } satisfies StateContract;

/* ---------------------------------- RecordAttemptFailure, FallbackFailed, GateFailed */

export const AttemptPhase = z.enum(['agent', 'fallback', 'gate']);
export const AttemptFailureInput = StepRef.extend({
  error: CaughtError,
  /** Where it failed: the agent ('agent', default), its fallback agent, or the dependency gate. */
  phase: AttemptPhase.optional(),
});
export type AttemptFailureInput = z.infer<typeof AttemptFailureInput>;

export const AttemptFailureDecision = z.object({
  retry: z.boolean(),
  waitSeconds: z.number().min(0),
  nextAttempt: z.number().int().min(1),
  /** True when the step goes to its fallback agent (a boolean: Choice rules compare it portably). */
  useFallback: z.boolean(),
  /** Set when the step goes to its fallback agent: the function to run and why. */
  fallback: z.object({ function: z.string(), agent: z.string(), failure: FallbackFailure }).nullable(),
  /** True when the step goes to a human review gate (`policy.humanReviewOnFailure`). */
  review: z.boolean(),
});
export type AttemptFailureDecision = z.infer<typeof AttemptFailureDecision>;

/** StepFailed: writes the failed attempt, then decides retry / fallback / review / fail. */
export const AttemptFailureContract = {
  input: AttemptFailureInput,
  output: AttemptFailureDecision,
} satisfies StateContract;

/* ---------------------------------------------------------------------- step completion */

export const CompleteOutput = z.object({ stepId: z.string() });
export type CompleteOutput = z.infer<typeof CompleteOutput>;
/** Step completion (the step runner does it after a successful attempt): what the attempt produced becomes the step's StepSucceeded and result; dependents are released. */
export const CompleteContract = { input: StepRef, output: CompleteOutput } satisfies StateContract;

/* -------------------------------------------------------- Finalize, FinalizeAfterError */

export const FinalizeInput = ExecutionInput.extend({
  error: CaughtError.optional(),
  /**
   * Finalize's callback token (the normal ending): Finalize answers it itself, with its output,
   * or with the failure Baton.TaskFailed for a FAILED task, so the execution ends as the task
   * did without a Choice and a Succeed/Fail state after it (lib/workflow/finalize.ts).
   */
  taskToken: z.string().min(1).optional(),
});
export type FinalizeInput = z.infer<typeof FinalizeInput>;
export const FinalStatus = z.enum(['SUCCEEDED', 'DEGRADED', 'FAILED', 'CANCELLED']);
export const FinalizeOutput = z.object({ status: FinalStatus });
export type FinalizeOutput = z.infer<typeof FinalizeOutput>;

/** Finalize: merges step outcomes into the task's result and its terminal status. */
export const FinalizeContract = { input: FinalizeInput, output: FinalizeOutput } satisfies StateContract;
/** The cause a failed task's execution ends with, beside the error Baton.TaskFailed (its events say why). */
export const TASK_FAILED_CAUSE = 'The task failed; see its events for why.';

/* ------------------------------------------------------------------- approval gates */

/** The gate a state asks about: the execution's references only. */
const GateFields = z.object({
  taskId: z.string(),
  run: z.number().int().min(1),
  kind: ApprovalKind,
  stepId: z.string().optional(),
  /** Review gates: the attempt a retry runs (the failed attempt + 1). */
  attempt: z.number().int().min(1).optional(),
  traceId: z.string().optional(),
});

/** Plan gates name no step; step and review gates do; only review gates carry the attempt. */
function gateRule(v: z.infer<typeof GateFields>, ctx: z.RefinementCtx): void {
  if ((v.kind === 'plan') !== (v.stepId === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['stepId'],
      message: 'step and review gates name a step; plan gates do not',
    });
  }
  if ((v.kind === 'review') !== (v.attempt !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['attempt'],
      message: 'review gates, and only they, carry the attempt',
    });
  }
}

export const ApprovalGateRef = GateFields.superRefine(gateRule);
export type ApprovalGateRef = z.infer<typeof ApprovalGateRef>;

export const ApprovalRequest = GateFields.extend({
  /** Review gates: the failure that sent the step to review (what a Catch puts at ResultPath). */
  error: CaughtError.optional(),
  taskToken: z.string().min(1),
}).superRefine(gateRule);
export type ApprovalRequest = z.infer<typeof ApprovalRequest>;
export const ApprovalRequestOutput = z.object({ approvalId: z.string() });
export type ApprovalRequestOutput = z.infer<typeof ApprovalRequestOutput>;

/** RequestApproval (.waitForTaskToken): creates the gate's approval once; returns nothing secret. */
export const RequestApprovalContract = {
  input: ApprovalRequest,
  output: ApprovalRequestOutput,
} satisfies StateContract;

export const ApprovalResolution = GateFields.extend({ error: CaughtError.optional() }).superRefine(gateRule);
export type ApprovalResolution = z.infer<typeof ApprovalResolution>;

/**
 * What comes after a gate: run the agent (approved), retry it once more (review), escalate (ask
 * again after a timeout), done (the step ended: failed, or succeeded with a reviewer's output),
 * or fail (plan gates: `error` goes to FinalizeAfterError).
 */
export const ResolvedAction = z.enum(['run', 'retry', 'escalate', 'done', 'fail']);
export type ResolvedAction = z.infer<typeof ResolvedAction>;
export const Resolution = z.object({
  action: ResolvedAction,
  error: z.object({ Error: z.string(), Cause: z.string() }).nullable(),
});
export type Resolution = z.infer<typeof Resolution>;

/** ResolveApproval: how a gate ended, from the store, and what comes next. */
export const ResolveApprovalContract = {
  input: ApprovalResolution,
  output: Resolution,
} satisfies StateContract;

/* ----------------------------------------------------------- RunAgent, RunFallback */

export const AgentInvocation = z.object({
  /** The agent function the step runner invokes (from the Map item, or StepFailed's fallback). */
  agentFunction: z.string(),
  taskId: z.string(),
  run: z.number().int().min(1),
  stepId: z.string(),
  attempt: z.number().int().min(1),
  traceId: z.string().optional(),
  /** Set on a fallback run: why the primary agent failed (filled in by RecordAttemptFailure). */
  failure: FallbackFailure.optional(),
  /**
   * RunAgent: what the step's gate ended with (`$.gate`: the release, or the route it was caught
   * on). A release's `started` numbers the iteration's first StepStarted without a reservation.
   */
  gate: z.looseObject({ started: CarriedStart.optional() }).optional(),
});
export type AgentInvocation = z.infer<typeof AgentInvocation>;

export const AgentResult = z.object({
  stepId: z.string(),
  attempt: z.number().int().min(1),
  agent: z.string(),
  /** The step had already succeeded (a duplicate invocation): the agent did not run. */
  alreadyDone: z.boolean().optional(),
});
export type AgentResult = z.infer<typeof AgentResult>;

/** RunAgent / RunFallback: one attempt of one step, run by the step runner on the step's agent function. */
export const AgentContract = { input: AgentInvocation, output: AgentResult } satisfies StateContract;

/* --------------------------------------------------- fan-out steps (lib/workflow/fan-out.ts) */

/** PrepareItems: resolves a fan-out step's items into one S3 object; only its references go on. */
export const PreparedItems = z.object({
  /** The items object (a JSON array of `{ index, item }`), for the Distributed Map's ItemReader. */
  bucket: z.string(),
  key: z.string(),
  /** Items in the object: the step's, or on a redrive the ones that failed before. */
  count: z.number().int().min(0),
  /** Items of the step. */
  total: z.number().int().min(0),
  /** Where the ResultWriter writes (a prefix in the artifact bucket). */
  resultPrefix: z.string(),
  maxConcurrency: z.number().int().min(1),
  itemsPerBatch: z.number().int().min(1),
  toleratedFailurePercentage: z.number().min(0).max(100),
  /**
   * What comes next: `run` the items, `collect` at once (no item to run: CollectItems ends the
   * step), or `done` (the items could not be read: PrepareItems failed the step).
   */
  next: z.enum(['run', 'collect', 'done']),
});
export type PreparedItems = z.infer<typeof PreparedItems>;
export const PrepareItemsContract = { input: StepRef, output: PreparedItems } satisfies StateContract;

/**
 * What each child execution of a fan-out step gets: the Distributed Map's ItemBatcher groups
 * `{ index, item }` entries into `Items` and adds the step's references as `BatchInput`.
 */
export const ItemBatchInput = z.object({
  taskId: z.string(),
  run: z.number().int().min(1),
  stepId: z.string(),
  /** The step's attempt (its fan-out's objects are under it). */
  attempt: z.number().int().min(1),
  /** The step's agent function. */
  agentFunction: z.string(),
  timeoutSeconds: z.number().int(),
  traceId: z.string().optional(),
});
export type ItemBatchInput = z.infer<typeof ItemBatchInput>;

/** RunItems: one attempt of one batch of items, run by the item runner on the step's agent function. */
export const ItemsInvocation = ItemBatchInput.extend({
  /** The batch's attempt (1-based; retries are per batch, with the step's retry policy). */
  itemAttempt: z.number().int().min(1),
  items: z.array(FanOutItem).min(1),
});
export type ItemsInvocation = z.infer<typeof ItemsInvocation>;
export const ItemsResult = z.object({ results: z.array(ItemOutcome) });
export type ItemsResult = z.infer<typeof ItemsResult>;
export const RunItemsContract = { input: ItemsInvocation, output: ItemsResult } satisfies StateContract;

/** ItemsFailed: a batch's attempt failed; retry it (after a backoff), or record its items FAILED. */
export const ItemsFailureInput = z.object({
  taskId: z.string(),
  run: z.number().int().min(1),
  stepId: z.string(),
  attempt: z.number().int().min(1),
  itemAttempt: z.number().int().min(1),
  /** The batch's item indexes. */
  indexes: z.array(z.number().int().min(0)).min(1),
  error: CaughtError,
  traceId: z.string().optional(),
});
export type ItemsFailureInput = z.infer<typeof ItemsFailureInput>;
export const ItemsFailureDecision = z.object({
  retry: z.boolean(),
  waitSeconds: z.number().min(0),
  nextAttempt: z.number().int().min(1),
  /** The batch's error as its child execution fails with it (the Fail state's ErrorPath and CausePath). */
  error: z.string(),
  cause: z.string(),
});
export type ItemsFailureDecision = z.infer<typeof ItemsFailureDecision>;
export const ItemsFailedContract = {
  input: ItemsFailureInput,
  output: ItemsFailureDecision,
} satisfies StateContract;

/**
 * CollectItems: reads the ResultWriter's manifest and result files, writes results.jsonl in index
 * order and the step's outcome, and releases the dependents' gates like any completion.
 */
export const CollectItemsInput = StepRef.extend({
  /** The ResultWriter's manifest (the Distributed Map's ResultWriterDetails.Key); absent when the map failed or did not run. */
  manifestKey: z.string().optional(),
  /** Set when the Distributed Map failed (States.ExceedToleratedFailureThreshold, or anything else). */
  error: CaughtError.optional(),
});
export type CollectItemsInput = z.infer<typeof CollectItemsInput>;
export const CollectItemsOutput = z.object({ status: z.enum(['SUCCEEDED', 'FAILED']) });
export type CollectItemsOutput = z.infer<typeof CollectItemsOutput>;
export const CollectItemsContract = {
  input: CollectItemsInput,
  output: CollectItemsOutput,
} satisfies StateContract;

/** Every Lambda contract of the state machine, by the function that implements it. */
export const STATE_CONTRACTS = {
  planner: PlanContract,
  gate: GateContract,
  stepFailed: AttemptFailureContract,
  finalize: FinalizeContract,
  requestApproval: RequestApprovalContract,
  resolveApproval: ResolveApprovalContract,
  stepRunner: AgentContract,
  prepareItems: PrepareItemsContract,
  itemRunner: RunItemsContract,
  itemsFailed: ItemsFailedContract,
  collectItems: CollectItemsContract,
} as const;
