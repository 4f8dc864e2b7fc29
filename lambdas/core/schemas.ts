/**
 * The contracts of Baton, one place: API bodies, plan, step, task, event, artifact, agent IO.
 * Types are inferred from these schemas; the OpenAPI document is generated from them.
 */
import * as z from 'zod';

export const LIMITS = {
  /** Steps in one plan. Map items carry only references, so this keeps execution state far below 256 KB. */
  maxSteps: 200,
  maxGoalChars: 4000,
  /** A request body larger than this is refused with 413 (it is stored in a 400 KB DynamoDB item). */
  maxBodyBytes: 256 * 1024,
  /** One step's `input`, serialized. */
  maxStepInputBytes: 32 * 1024,
  /** An agent's JSON `output`, serialized. Larger results belong in artifacts. */
  maxAgentOutputBytes: 32 * 1024,
  maxSummaryChars: 4000,
  /** Nesting of any JSON a request or an agent hands in, counted from the body or the output itself. */
  maxJsonDepth: 32,
  /** Length of any object key in that JSON. */
  maxJsonKeyChars: 256,
  maxArtifactsPerStep: 50,
  maxArtifactBytes: 10 * 1024 * 1024,
  /**
   * Artifacts up to this size are served by the API function itself; larger ones are a 302 to a
   * presigned S3 URL (a Lambda response is capped at 6 MB, and the body travels base64-encoded).
   */
  maxInlineDownloadBytes: 4 * 1024 * 1024,
  /** How long a presigned artifact download URL is valid. */
  downloadUrlSeconds: 300,
  /** Default and cap of a step's agent timeout. */
  defaultStepTimeoutSeconds: 300,
  maxStepTimeoutSeconds: 900,
  defaultMaxAttempts: 3,
  maxMaxAttempts: 10,
  defaultIntervalSeconds: 1,
  maxIntervalSeconds: 300,
  defaultBackoffRate: 2,
  maxBackoffRate: 5,
  /** Ceiling of any single retry delay, after backoff. */
  maxRetryDelaySeconds: 600,
  /** How long an approval gate waits when neither the step nor the policy says (24 h). */
  defaultApprovalTimeoutSeconds: 24 * 3600,
  /** Cap of any approval timeout (7 days: the execution's own limit). */
  maxApprovalTimeoutSeconds: 7 * 24 * 3600,
  /** Human reviews of one step in one run; after that a failure fails the step. */
  maxReviewsPerStep: 3,
  /** Items of one fan-out step (`forEach`): the Distributed Map runs one child execution per item (or batch). */
  maxFanOutItems: 10_000,
  /** A fan-out step's parallel child executions (a Distributed Map's MaxConcurrency). */
  maxFanOutConcurrency: 10_000,
  /** Default parallel child executions of a fan-out step. */
  defaultFanOutConcurrency: 100,
  /** Items per child execution (`forEach.itemsPerBatch`, a Distributed Map's ItemBatcher). */
  maxItemsPerBatch: 1000,
  /** One item, serialized: it travels in its child execution's input (256 KB) with the step's input. */
  maxItemBytes: 32 * 1024,
  /** Failed items named in `result.missing` (`<step>[<index>]`); results.jsonl has every one. */
  maxMissingItems: 1000,
} as const;

export const TaskStatus = z.enum([
  'QUEUED',
  'PLANNING',
  'RUNNING',
  'AWAITING_APPROVAL',
  'SUCCEEDED',
  'DEGRADED',
  'FAILED',
  'CANCELLED',
]);
export type TaskStatus = z.infer<typeof TaskStatus>;
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['SUCCEEDED', 'DEGRADED', 'FAILED', 'CANCELLED'];

export const StepStatus = z.enum([
  'PENDING',
  'WAITING',
  'AWAITING_APPROVAL',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'SKIPPED',
  'CANCELLED',
]);
export type StepStatus = z.infer<typeof StepStatus>;

export const StepId = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
    'use 1-64 letters, digits, "_" or "-", starting with a letter or digit',
  );
/**
 * What an id in a request path may be: the charset and length of every id the API hands out
 * (task ids, artifact ids, approval ids), far below DynamoDB's key size limits.
 */
export const PathId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, 'is not an id: use 1-128 letters, digits, "_" or "-"');
export const AgentName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'use 1-40 lowercase letters, digits or "-", starting with a letter');

/** Any JSON value. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export const JsonValue: z.ZodType<Json> = z
  .lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValue), jsonObject()]))
  // Named, so JSON Schema (and the OpenAPI document) refer to it as JsonValue, not __schema0.
  .meta({ id: 'JsonValue', description: 'Any JSON value' });
export const JsonObject = jsonObject();

/**
 * A JSON object. zod's record drops a key `__proto__` without a word (a JavaScript object cannot
 * hold it as a plain key), so JSON that has one (JSON.parse makes it an own member) is refused
 * here, as lambdas/core/json.ts refuses it, instead of coming out without it.
 */
function jsonObject(): z.ZodType<Record<string, Json>> {
  return z.preprocess(
    (value, ctx) => {
      if (value !== null && typeof value === 'object' && Object.hasOwn(value, '__proto__')) {
        ctx.issues.push({
          code: 'custom',
          message: 'the key "__proto__" is reserved',
          path: ['__proto__'],
          input: value,
        });
      }
      return value;
    },
    z.record(z.string(), JsonValue),
  );
}

function maxJsonBytes(limit: number) {
  return (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8') <= limit;
}

export const RetrySpec = z
  .object({
    maxAttempts: z.number().int().min(1).max(LIMITS.maxMaxAttempts),
    intervalSeconds: z.number().int().min(0).max(LIMITS.maxIntervalSeconds).optional(),
    backoffRate: z.number().min(1).max(LIMITS.maxBackoffRate).optional(),
  })
  .strict();
export type RetrySpec = z.infer<typeof RetrySpec>;

/**
 * Where a fan-out step's items come from (`forEach.items`):
 *   inputs.datasets.<name>             a dataset of the task's `inputs.datasets` (CSV rows as objects, or a JSON array)
 *   steps.<stepId>.output.<field>      an array in an upstream step's output (`<field>` may be a dotted path)
 *   steps.<stepId>.artifacts.<name>    an upstream CSV, JSONL or JSON-array artifact
 *   s3://<bucket>/<prefix>             in AWS: one item per object under the prefix, of a bucket the deployment may read
 * A `steps.<id>` reference makes that step a dependency of the fan-out step (added to dependsOn).
 */
export const ItemsRef = z
  .string()
  .max(1024)
  .regex(
    /^(inputs\.datasets\.[^\s]+|steps\.[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(output|artifacts)\.[^\s]+|s3:\/\/[a-z0-9][a-z0-9.-]{1,62}\/[^\s]*)$/,
    'name the items: "inputs.datasets.<name>", "steps.<stepId>.output.<field>", "steps.<stepId>.artifacts.<name>" or "s3://<bucket>/<prefix>"',
  );

/** A fan-out step: its agent runs once per item, as a Distributed Map (lib/workflow/fan-out.ts). */
export const ForEachSpec = z
  .object({
    items: ItemsRef,
    /** Parallel child executions (default 100). */
    maxConcurrency: z.number().int().min(1).max(LIMITS.maxFanOutConcurrency).optional(),
    /** Items per child execution (default 1): a batch is retried, and fails, as one. */
    itemsPerBatch: z.number().int().min(1).max(LIMITS.maxItemsPerBatch).optional(),
    /** Failed items tolerated, in percent of the items (default 0): within it the step succeeds and the task ends DEGRADED. */
    toleratedFailurePercentage: z.number().min(0).max(100).optional(),
  })
  .strict();
export type ForEachSpec = z.infer<typeof ForEachSpec>;

export const StepSpec = z
  .object({
    id: StepId,
    agent: AgentName,
    input: JsonObject.optional().refine(maxJsonBytes(LIMITS.maxStepInputBytes), {
      message: `step input must serialize to at most ${LIMITS.maxStepInputBytes} bytes; put large data in task inputs or artifacts`,
    }),
    dependsOn: z.array(StepId).max(LIMITS.maxSteps).optional(),
    timeoutSeconds: z.number().int().min(1).max(LIMITS.maxStepTimeoutSeconds).optional(),
    retry: RetrySpec.optional(),
    fallbackAgent: AgentName.optional(),
    approval: z.enum(['none', 'before']).optional(),
    approvalTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional(),
    optional: z.boolean().optional(),
    /** Fan-out: run the agent once per item (see ForEachSpec); retry and timeoutSeconds apply per item. */
    forEach: ForEachSpec.optional(),
  })
  .strict();
export type StepSpec = z.infer<typeof StepSpec>;

export const PlanSpec = z
  .object({
    steps: z.array(StepSpec).min(1).max(LIMITS.maxSteps, `a plan has at most ${LIMITS.maxSteps} steps`),
  })
  .strict();
export type PlanSpec = z.infer<typeof PlanSpec>;

export const Policy = z
  .object({
    allowDegraded: z.boolean().optional(),
    requirePlanApproval: z.boolean().optional(),
    approvalTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional(),
    /**
     * What an approval gate does when its timeout passes without a decision: reject (default),
     * or escalate: notify once more (SNS message attribute escalation=true), wait one more
     * timeout, then reject.
     */
    onApprovalTimeout: z.enum(['reject', 'escalate']).optional(),
    /**
     * A step whose agent (and fallback agent, if it has one) failed goes to a human review gate
     * instead of failing: the reviewer accepts a replacement output, grants one more attempt, or
     * fails the step.
     */
    humanReviewOnFailure: z.boolean().optional(),
    maxConcurrency: z.number().int().min(1).max(40).optional(),
    /** Token budget of the whole task across all model calls; exceeding it fails the step that did. */
    maxTokens: z.number().int().positive().optional(),
  })
  .strict();
export type Policy = z.infer<typeof Policy>;

export const CreateTaskBody = z
  .object({
    goal: z.string().trim().min(1, 'goal must not be empty').max(LIMITS.maxGoalChars),
    plan: PlanSpec.optional(),
    inputs: JsonObject.optional(),
    policy: Policy.optional(),
  })
  .strict();
export type CreateTaskBody = z.infer<typeof CreateTaskBody>;

/** A step after validation: defaults applied, dependencies explicit. Steps are stored in topological order. */
export const PlanStep = z.object({
  id: StepId,
  agent: AgentName,
  input: JsonObject,
  dependsOn: z.array(StepId),
  timeoutSeconds: z.number().int(),
  retry: z.object({ maxAttempts: z.number().int(), intervalSeconds: z.number(), backoffRate: z.number() }),
  fallbackAgent: AgentName.optional(),
  approval: z.enum(['none', 'before']),
  approvalTimeoutSeconds: z.number().int().optional(),
  optional: z.boolean(),
  /** A fan-out step, its defaults applied. */
  forEach: z
    .object({
      items: ItemsRef,
      maxConcurrency: z.number().int(),
      itemsPerBatch: z.number().int(),
      toleratedFailurePercentage: z.number(),
    })
    .optional(),
});
export type PlanStep = z.infer<typeof PlanStep>;

export const Plan = z.object({
  steps: z.array(PlanStep),
  /** Who made the plan: the client ("explicit") or a planner ("planner:<name>"). */
  source: z.string(),
  /** Free text from the planner about how it planned (e.g. that it is deterministic). */
  rationale: z.string().optional(),
});
export type Plan = z.infer<typeof Plan>;

export const ArtifactRef = z.object({
  id: z.string(),
  stepId: StepId,
  name: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  sha256: z.string(),
});
export type ArtifactRef = z.infer<typeof ArtifactRef>;

export const EventType = z.enum([
  'TaskSubmitted',
  'ExecutionStarted',
  'PlanningStarted',
  'PlanCreated',
  'StepWaiting',
  'StepReady',
  'StepStarted',
  'StepAttemptFailed',
  'StepSucceeded',
  'StepFailed',
  'StepSkipped',
  'ArtifactStored',
  'TaskSucceeded',
  'TaskDegraded',
  'TaskFailed',
  'TaskCancelled',
  // execution semantics
  'ExecutionResumed',
  'TaskRedriven',
  'StepFallbackStarted',
  'DeadLetterRecorded',
  // human in the loop
  'ApprovalRequested',
  'ApprovalDecided',
  // agents' audited work
  'ToolCalled',
  'ModelCalled',
  // fan-out steps (forEach)
  'FanOutStarted',
  'FanOutItemFailed',
  'FanOutCompleted',
]);
export type EventType = z.infer<typeof EventType>;

/* TaskEvent, the union of one schema per EventType with its typed data: lambdas/core/events.ts */

/** A failure as Baton reports it: the error's name (as Step Functions matches it) and message. */
export const ErrorInfo = z.object({ name: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfo>;

/** A fan-out step's progress: counted as items end (sharded counters), never by reading item events. */
export const FanOutProgress = z.object({
  /** Items of the step (the run's, when a redrive re-runs only the failed ones: `rerun` of them). */
  total: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  /** Items started and not ended yet. */
  running: z.number().int(),
  /** Items not started yet. */
  pending: z.number().int(),
  /** Set on a redrive: the items this run re-runs (the failed ones of the run before). */
  rerun: z.number().int().optional(),
  /** Where the items came from (`forEach.items`). */
  items: z.string(),
});
export type FanOutProgress = z.infer<typeof FanOutProgress>;

/** What `result.missing` names: a step without output, or one failed item of a fan-out step (`<stepId>[<index>]`). */
export const MissingRef = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\[\d+\])?$/, 'a step id, or <stepId>[<index>] for an item');

export const StepView = z.object({
  id: StepId,
  agent: AgentName,
  dependsOn: z.array(StepId),
  status: StepStatus,
  attempts: z.number().int(),
  /** The step's input as planned (its defaults applied). */
  input: JsonObject.optional(),
  /** Whether a person approves the step before its agent runs. */
  approval: z.enum(['none', 'before']).optional(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  summary: z.string().optional(),
  output: JsonValue.optional(),
  error: ErrorInfo.optional(),
  /** Fan-out steps: where the items come from, and (GET /tasks/{id}) the progress counts. */
  forEach: z.object({ items: z.string() }).optional(),
  fanOut: FanOutProgress.optional(),
});
export type StepView = z.infer<typeof StepView>;

export const TaskResult = z.object({
  /** Per step: what it produced (summary, output, artifact ids) or why not. */
  steps: z.record(
    z.string(),
    z.object({
      status: StepStatus,
      summary: z.string().optional(),
      output: JsonValue.optional(),
      artifacts: z.array(z.string()).optional(),
      error: ErrorInfo.optional(),
      /** Fan-out steps: item counts (the failed indexes are in `missing` and the step's results.jsonl). */
      items: z
        .object({ total: z.number().int(), succeeded: z.number().int(), failed: z.number().int() })
        .optional(),
    }),
  ),
  /** Steps without output, and failed items of fan-out steps that succeeded within their tolerance (`<stepId>[<index>]`, the first 1000). */
  missing: z.array(MissingRef).optional(),
});
export type TaskResult = z.infer<typeof TaskResult>;

export const TaskView = z.object({
  taskId: z.string(),
  goal: z.string(),
  status: TaskStatus,
  createdAt: z.string(),
  updatedAt: z.string(),
  plan: z.object({
    steps: z.array(StepView),
    source: z.string().optional(),
    rationale: z.string().optional(),
  }),
  result: TaskResult.optional(),
  error: ErrorInfo.optional(),
  traceId: z.string(),
});
export type TaskView = z.infer<typeof TaskView>;

export const TaskSummary = TaskView.pick({
  taskId: true,
  goal: true,
  status: true,
  createdAt: true,
  updatedAt: true,
});
export type TaskSummary = z.infer<typeof TaskSummary>;

export const CreateTaskResponse = z.object({
  taskId: z.string(),
  status: TaskStatus,
  links: z.object({ self: z.string(), events: z.string(), artifacts: z.string() }),
});

export const ListTasksQuery = z.object({
  status: TaskStatus.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(2048).optional(),
});

export const ListEventsQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `GET /tasks/{id}/events/stream`: the cursor (`Last-Event-ID` wins) and how long to wait for news. */
export const StreamEventsQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  /** Seconds to wait for the first new event before answering with none (the Lambda's 30 s bound it). */
  wait: z.coerce.number().int().min(0).max(20).default(10),
});

/* ------------------------------------------------------------------ agent contract */

export const UpstreamResult = z.object({
  stepId: StepId,
  agent: AgentName,
  summary: z.string(),
  output: JsonValue.optional(),
  artifacts: z.array(ArtifactRef),
});
export type UpstreamResult = z.infer<typeof UpstreamResult>;

export const AgentInput = z.object({
  taskId: z.string(),
  stepId: StepId,
  /** 1-based attempt number of this step. */
  attempt: z.number().int().min(1),
  agent: AgentName,
  goal: z.string(),
  /** The step's own `input` from the plan. */
  input: JsonObject,
  /** The task's `inputs` from the request. */
  inputs: JsonObject,
  upstream: z.array(UpstreamResult),
  /** Set when this is a fallback run: what made the primary agent fail. */
  failure: z.object({ agent: AgentName, name: z.string(), message: z.string() }).optional(),
});
export type AgentInput = z.infer<typeof AgentInput>;

export const ArtifactBody = z.union([z.string(), z.object({ base64: z.string() }).strict()]);
export const AgentArtifact = z
  .object({
    name: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._-]+$/, 'artifact names use letters, digits, ".", "_" or "-"'),
    contentType: z.string().min(1).max(200),
    body: ArtifactBody,
  })
  .strict();
export type AgentArtifact = z.infer<typeof AgentArtifact>;

export const AgentOutput = z
  .object({
    summary: z.string().max(LIMITS.maxSummaryChars),
    output: JsonValue.optional().refine(maxJsonBytes(LIMITS.maxAgentOutputBytes), {
      message: `output must serialize to at most ${LIMITS.maxAgentOutputBytes} bytes; write larger results as artifacts`,
    }),
    artifacts: z.array(AgentArtifact).max(LIMITS.maxArtifactsPerStep).optional(),
  })
  .strict();
export type AgentOutput = z.infer<typeof AgentOutput>;

/** What the harness gives an agent besides its input. */
export interface AgentContext {
  /** Reads the bytes of an upstream artifact. */
  readArtifact(ref: ArtifactRef): Promise<Uint8Array>;
  /** Structured log line, tagged with task, step and attempt. */
  log(message: string, data?: Record<string, unknown>): void;
  /**
   * The tools on this agent's allow-list (see lambdas/agents/settings.ts). `call` validates the
   * arguments, enforces the tool's limits, records a ToolCalled event, and throws a
   * Baton.NonRetryable / Baton.AgentFailed error whose `cause` is the tool's error. Given by the
   * harness; absent only when an agent is called outside it.
   */
  tools?: {
    list(): import('../tools/types.js').ToolDefinition[];
    has(name: string): boolean;
    call(name: string, args: unknown): Promise<unknown>;
  };
  /**
   * The agent's model: the deployment's (BATON_MODEL_CONFIG) or the agent's override, within the
   * step and task token budgets; every call records a ModelCalled event. `deterministic` is true
   * for the offline provider (no LLM). Given by the harness; absent only outside it.
   */
  model?: import('../models/types.js').ModelProvider;
  /** Aborted when the attempt ends or runs out of time. */
  signal?: AbortSignal;
}

/** An agent: stateless, `(input, ctx) => output`; a thrown error fails the attempt. */
export type AgentHandler = (input: AgentInput, ctx: AgentContext) => Promise<AgentOutput>;

/* --------------------------------------------------------- workflow (execution state) */

/** Input of a Step Functions execution: references only. */
/**
 * An execution's input. `traceId`: the task's X-Ray trace id (lambdas/core/trace.ts), which the
 * definition passes to every Lambda it calls (`$$.Execution.Input.traceId`); optional for
 * callers of the use cases that have none (tests).
 */
export const ExecutionInput = z.object({
  taskId: z.string(),
  run: z.number().int().min(1),
  traceId: z.string().optional(),
});
export type ExecutionInput = z.infer<typeof ExecutionInput>;

/** One Map item: what a step iteration needs to run, nothing large. */
export const StepItem = z.object({
  taskId: z.string(),
  run: z.number().int(),
  stepId: StepId,
  timeoutSeconds: z.number().int(),
});
export type StepItem = z.infer<typeof StepItem>;

/** Intake queue message body. */
export const IntakeMessage = z.object({
  taskId: z.string(),
  run: z.number().int().min(1),
  traceId: z.string(),
});
export type IntakeMessage = z.infer<typeof IntakeMessage>;
