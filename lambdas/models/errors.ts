/**
 * Typed errors of model calls. They extend the core classes so that their `name` stays one of the
 * names the state machine matches (`Baton.NonRetryable`, `Baton.AgentFailed`): a request the model
 * rejected is not retried by Step Functions, an unavailable model is. The specific class, the
 * underlying error (`code`, `cause`) and the attempts made are kept for logs and audit events.
 */
import { AgentFailedError, NonRetryableError } from '../core/errors.js';

export interface ModelErrorDetails {
  /** Provider id, e.g. `bedrock:anthropic.claude-3-5-haiku-20241022-v1:0`. */
  provider: string;
  /** How many times the request was sent before giving up. */
  attempts: number;
  /** The upstream error's name or code, e.g. `ValidationException`, `rate_limit_exceeded`. */
  code?: string;
  /** The upstream HTTP status, when known. */
  status?: number;
  cause?: unknown;
}

/** The model endpoint rejected the request (bad input, no access, unknown model): retrying cannot help. */
export class ModelRequestError extends NonRetryableError {
  readonly provider: string;
  readonly attempts: number;
  readonly code?: string;
  readonly status?: number;
  constructor(message: string, details: ModelErrorDetails) {
    super(message, { cause: details.cause });
    this.provider = details.provider;
    this.attempts = details.attempts;
    this.code = details.code;
    this.status = details.status;
  }
}

/**
 * The model could not answer (throttled, unavailable, timed out, network) even after the provider's
 * own retries. A later attempt of the step may succeed, so Step Functions may retry it.
 */
export class ModelUnavailableError extends AgentFailedError {
  readonly provider: string;
  readonly attempts: number;
  readonly code?: string;
  readonly status?: number;
  constructor(message: string, details: ModelErrorDetails) {
    super(message, { cause: details.cause });
    this.provider = details.provider;
    this.attempts = details.attempts;
    this.code = details.code;
    this.status = details.status;
  }
}

/**
 * The model did not return a value matching the requested schema, even after being shown the
 * validation errors once. Model output varies between attempts, so this stays retryable.
 */
export class StructuredOutputError extends AgentFailedError {
  readonly provider: string;
  /** The validation problems of the last reply, one line each. */
  readonly issues: string[];
  /** The last reply (truncated to 2000 characters). */
  readonly text: string;
  constructor(message: string, details: { provider: string; issues: string[]; text: string }) {
    super(message);
    this.provider = details.provider;
    this.issues = details.issues;
    this.text = details.text.slice(0, 2000);
  }
}
