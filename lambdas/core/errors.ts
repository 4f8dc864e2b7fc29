/**
 * Typed errors. Every class sets `name` (the value Step Functions matches in `ErrorEquals`)
 * and keeps `cause`. The ASL definition imports `ErrorNames` from here, so the names thrown by
 * Lambdas and the names caught by the state machine have one source.
 */

export const ErrorNames = {
  /** An agent attempt failed and may be retried. */
  AgentFailed: 'Baton.AgentFailed',
  /** An agent attempt failed and must not be retried (bad input, policy refusal, ...). */
  NonRetryable: 'Baton.NonRetryable',
  /** Agent input or output broke the agent contract: never retried. */
  ContractViolation: 'Baton.ContractViolation',
  /** The task was cancelled while the step was running. */
  Cancelled: 'Baton.Cancelled',
  /** Request validation failed (API). */
  Validation: 'Baton.Validation',
  NotFound: 'Baton.NotFound',
  Conflict: 'Baton.Conflict',
  PayloadTooLarge: 'Baton.PayloadTooLarge',
  Unauthorized: 'Baton.Unauthorized',
  Gone: 'Baton.Gone',
  /** A human rejected an approval gate (sent as the task failure of the gate's token). */
  ApprovalRejected: 'Baton.ApprovalRejected',
  /** An approval gate expired without a decision (its timeout policy rejected it). */
  ApprovalTimedOut: 'Baton.ApprovalTimedOut',
  /** A function's environment is missing or has a malformed variable (lambdas/core/env.ts). */
  InvalidEnvironment: 'Baton.InvalidEnvironment',
} as const;

/** Errors the RunAgent state never retries: the next attempt would fail the same way. */
export const NON_RETRYABLE_ERRORS = [
  ErrorNames.NonRetryable,
  ErrorNames.ContractViolation,
  ErrorNames.Cancelled,
];

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
    this.name = 'Baton.Error';
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

export interface ProblemIssue {
  path: string;
  message: string;
}

/** An error the API turns into an RFC 9457 problem document; `status` < 500 is shown to clients. */
export class HttpProblemError extends BatonError {
  readonly status: number;
  readonly title: string;
  readonly issues?: ProblemIssue[];
  readonly extra?: Record<string, unknown>;
  constructor(
    status: number,
    title: string,
    detail: string,
    options?: { cause?: unknown; issues?: ProblemIssue[]; extra?: Record<string, unknown> },
  ) {
    super(detail, options);
    this.status = status;
    this.title = title;
    this.issues = options?.issues;
    this.extra = options?.extra;
  }
}

export class ValidationError extends HttpProblemError {
  constructor(detail: string, issues?: ProblemIssue[], options?: { cause?: unknown }) {
    super(400, 'Invalid request', detail, { ...options, issues });
    this.name = ErrorNames.Validation;
  }
}

export class NotFoundError extends HttpProblemError {
  constructor(detail: string) {
    super(404, 'Not found', detail);
    this.name = ErrorNames.NotFound;
  }
}

export class ConflictError extends HttpProblemError {
  constructor(detail: string, extra?: Record<string, unknown>) {
    super(409, 'Conflict', detail, { extra });
    this.name = ErrorNames.Conflict;
  }
}

export class PayloadTooLargeError extends HttpProblemError {
  constructor(detail: string) {
    super(413, 'Payload too large', detail);
    this.name = ErrorNames.PayloadTooLarge;
  }
}

export class UnauthorizedError extends HttpProblemError {
  constructor(detail = 'Send the API key as "Authorization: Bearer <key>".') {
    super(401, 'Unauthorized', detail);
    this.name = ErrorNames.Unauthorized;
  }
}

/** The resource existed but is no longer usable (an expired approval link, a closed gate). */
export class GoneError extends HttpProblemError {
  constructor(detail: string) {
    super(410, 'Gone', detail);
    this.name = ErrorNames.Gone;
  }
}

/** A short, serializable description of any thrown value. */
export function describeError(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name || 'Error', message: err.message.slice(0, 2000) };
  return { name: 'Error', message: String(err).slice(0, 2000) };
}
