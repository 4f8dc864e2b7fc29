/**
 * Typed errors: one tree. Every Baton error extends `BatonError`, sets `name` from `ErrorNames`
 * (the value Step Functions matches in `ErrorEquals`) and keeps `cause`. The ASL definition
 * imports `ErrorNames` from here, so the names thrown by Lambdas and the names caught by the
 * state machine have one source. Callers match errors by class (`instanceof`), not by name.
 *
 * The domain errors here carry no HTTP status: the API maps error classes to status and title
 * in one table (`lambdas/api/http.ts`).
 */

export const ErrorNames = {
  /** Any Baton error without a more specific name (the base class). */
  Error: 'Baton.Error',

  /* ---- matched by the state machine (ErrorEquals) or recorded as step/task failures: never rename */
  /** An agent attempt failed and may be retried. */
  AgentFailed: 'Baton.AgentFailed',
  /** An agent attempt failed and must not be retried (bad input, policy refusal, ...). */
  NonRetryable: 'Baton.NonRetryable',
  /** Agent input or output broke the agent contract: never retried. */
  ContractViolation: 'Baton.ContractViolation',
  /** The task was cancelled while the step was running. */
  Cancelled: 'Baton.Cancelled',
  /** A human rejected an approval gate (sent as the task failure of the gate's token). */
  ApprovalRejected: 'Baton.ApprovalRejected',
  /** An approval gate expired without a decision (its timeout policy rejected it). */
  ApprovalTimedOut: 'Baton.ApprovalTimedOut',
  /** The execution's Fail state: the task ended FAILED. */
  TaskFailed: 'Baton.TaskFailed',
  /** A step was skipped because a step it depends on failed. */
  DependencyFailed: 'Baton.DependencyFailed',
  /** Finalize found no plan for the task. */
  NoPlan: 'Baton.NoPlan',
  /** The execution ended outside Baton (recorded by the reconciler): timed out, stopped, or failed. */
  ExecutionTimedOut: 'Baton.ExecutionTimedOut',
  ExecutionAborted: 'Baton.ExecutionAborted',
  ExecutionFailed: 'Baton.ExecutionFailed',
  /** A fan-out step had more failed items than its `forEach.toleratedFailurePercentage`. */
  FanOutFailed: 'Baton.FanOutFailed',
  /** A fan-out item that did not run: its step failed (or was stopped) before it. */
  ItemNotRun: 'Baton.ItemNotRun',
  /** A fan-out step's items could not be read (a missing dataset or artifact, not an array, too many). */
  ItemsUnavailable: 'Baton.ItemsUnavailable',

  /*
   * ---- a parked step's way out of AwaitDependencies other than simply running (sent as the task
   * failure of its token, each caught by the step iteration into its own next state: no Choice
   * state on any step's path). Not failures: states.ts gateRoute.
   */
  /** The step does not run: skipped (a dependency failed) or done (it succeeded before). */
  GateNotRun: 'Baton.Gate.NotRun',
  /** The step runs after its approval gate. */
  GateApproval: 'Baton.Gate.Approval',
  /** A fan-out step runs its items. */
  GateFanOut: 'Baton.Gate.FanOut',
  /** A fan-out step runs its items after its approval gate. */
  GateFanOutApproval: 'Baton.Gate.FanOutApproval',

  /* ---- domain errors the API maps to problem documents (lambdas/api/http.ts) */
  /** Request validation failed. */
  Validation: 'Baton.Validation',
  NotFound: 'Baton.NotFound',
  Conflict: 'Baton.Conflict',
  PayloadTooLarge: 'Baton.PayloadTooLarge',
  Unauthorized: 'Baton.Unauthorized',
  Gone: 'Baton.Gone',
  /** A list cursor that this API did not return. */
  InvalidCursor: 'Baton.InvalidCursor',

  /* ---- adapters and configuration */
  StoreError: 'Baton.StoreError',
  WorkflowError: 'Baton.WorkflowError',
  ArtifactStoreError: 'Baton.ArtifactStoreError',
  QueueError: 'Baton.QueueError',
  SigningSecretUnavailable: 'Baton.SigningSecretUnavailable',
  ApprovalNotificationFailed: 'Baton.ApprovalNotificationFailed',
  ApprovalsNotConfigured: 'Baton.ApprovalsNotConfigured',
  AgentConfigError: 'Baton.AgentConfigError',
  AgentSettingsError: 'Baton.AgentSettingsError',

  /*
   * ---- the tool runtime. These names are part of the audit trail (`ToolCalled` events report
   * the tool error's name, and step errors start with it), so they keep their class-name values.
   */
  ToolError: 'ToolError',
  ToolNotAllowed: 'ToolNotAllowedError',
  ToolNotFound: 'ToolNotFoundError',
  ToolInput: 'ToolInputError',
  ToolDisabled: 'ToolDisabledError',
  ToolTimeout: 'ToolTimeoutError',
  ToolAborted: 'ToolAbortedError',
  ToolExecution: 'ToolExecutionError',
  SsrfBlocked: 'SsrfBlockedError',
  HostNotAllowed: 'HostNotAllowedError',
  ReadOnlyViolation: 'ReadOnlyViolationError',

  /* ---- local mode and the CLI (lib/local, bin) */
  EmulatorError: 'Baton.EmulatorError',
  /** Local IAM refused an emulated AWS call (lib/local/iam). */
  LocalAccessDenied: 'Baton.LocalAccessDenied',
  SqsPollerError: 'Baton.SqsPollerError',
  TemplateError: 'Baton.TemplateError',
  LocalRuntimeError: 'Baton.LocalRuntimeError',
  CliError: 'Baton.CliError',

  /** A function's environment is missing or has a malformed variable (lambdas/core/env.ts). */
  InvalidEnvironment: 'Baton.InvalidEnvironment',
  /** The state machine definition does not fit a Lambda's contract (lib/workflow/contract.ts, at synth). */
  ContractMismatch: 'Baton.ContractMismatch',
  /** A secret written inline in a config the stack would deploy (lib/aws/agent-settings.ts, at synth). */
  InlineSecret: 'Baton.InlineSecret',
} as const;

export type ErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

/** Errors the RunAgent state never retries: the next attempt would fail the same way. */
export const NON_RETRYABLE_ERRORS = [
  ErrorNames.NonRetryable,
  ErrorNames.ContractViolation,
  ErrorNames.Cancelled,
];

/**
 * Errors of Step Functions itself that the definition matches (ErrorEquals), named here so that
 * the definition takes every name it matches from this module.
 */
export const STATES_ERRORS = {
  /** A Distributed Map run had more failed items than its ToleratedFailurePercentage. */
  ExceedToleratedFailureThreshold: 'States.ExceedToleratedFailureThreshold',
  /** Any error (Catch-all). */
  All: 'States.ALL',
} as const;

/** The retrier AWS recommends for Lambda service errors (not function errors). */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

export class BatonError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.Error;
  }
}

/** Thrown by an agent for a failure that a retry could fix (flaky upstream, throttling). */
export class AgentFailedError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.AgentFailed;
  }
}

/**
 * Thrown by an agent for a failure that retrying cannot fix. Step Functions does not retry
 * it; the step goes straight to its fallback (if any) or fails.
 */
export class NonRetryableError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.NonRetryable;
  }
}

export class ContractViolationError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.ContractViolation;
  }
}

/** The task was cancelled: whatever the step produced is discarded. Never retried. */
export class CancelledError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.Cancelled;
  }
}

/** One problem of an invalid input: where (a dotted path) and what is wrong. */
export interface ProblemIssue {
  path: string;
  message: string;
}

/** The input (request body, query, form, decision) is invalid; `issues` says where and why. */
export class ValidationError extends BatonError {
  readonly issues?: ProblemIssue[];
  constructor(detail: string, issues?: ProblemIssue[], options?: { cause?: unknown }) {
    super(detail, options);
    this.name = ErrorNames.Validation;
    this.issues = issues;
  }
}

export class NotFoundError extends BatonError {
  constructor(detail: string) {
    super(detail);
    this.name = ErrorNames.NotFound;
  }
}

/** The request conflicts with the current state; `extra` holds what a client needs to see (who decided, ...). */
export class ConflictError extends BatonError {
  readonly extra?: Record<string, unknown>;
  constructor(detail: string, extra?: Record<string, unknown>) {
    super(detail);
    this.name = ErrorNames.Conflict;
    this.extra = extra;
  }
}

export class PayloadTooLargeError extends BatonError {
  constructor(detail: string) {
    super(detail);
    this.name = ErrorNames.PayloadTooLarge;
  }
}

export class UnauthorizedError extends BatonError {
  constructor(detail = 'Send the API key as "Authorization: Bearer <key>".') {
    super(detail);
    this.name = ErrorNames.Unauthorized;
  }
}

/** The resource existed but is no longer usable (an expired approval link, a closed gate). */
export class GoneError extends BatonError {
  readonly extra?: Record<string, unknown>;
  constructor(detail: string, extra?: Record<string, unknown>) {
    super(detail);
    this.name = ErrorNames.Gone;
    this.extra = extra;
  }
}

/** A short, serializable description of any thrown value. */
export function describeError(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name || 'Error', message: err.message.slice(0, 2000) };
  return { name: 'Error', message: String(err).slice(0, 2000) };
}
