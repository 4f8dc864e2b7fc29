/**
 * Typed errors of the tool runtime. Every class sets `name` from `ErrorNames` (its class name,
 * which is what a ToolCallRecord and the ToolCalled audit event report) and keeps `cause`. `retryable` says whether calling the tool again
 * could succeed; `toStepError` turns any tool error into the core error a Lambda should throw
 * so that Step Functions retries (or does not retry) the step accordingly.
 */
import {
  AgentFailedError,
  BatonError,
  ErrorNames,
  NonRetryableError,
  type ProblemIssue,
} from '../core/errors.js';

export interface ToolErrorOptions {
  cause?: unknown;
  /** The tool that failed, when known. */
  tool?: string;
}

export class ToolError extends BatonError {
  readonly tool?: string;
  /** Whether a later attempt of the same call could succeed (flaky upstream, timeout). */
  readonly retryable: boolean = false;
  constructor(message: string, options?: ToolErrorOptions) {
    super(message, options);
    this.name = ErrorNames.ToolError;
    this.tool = options?.tool;
  }
}

/** The tool exists but is not on the agent's allow-list. */
export class ToolNotAllowedError extends ToolError {
  constructor(tool: string, allowed: readonly string[]) {
    super(
      `Tool "${tool}" is not allowed for this agent (allowed: ${allowed.length ? allowed.join(', ') : 'none'}). ` +
        'Add it to the agent allow-list in the tool config.',
      { tool },
    );
    this.name = ErrorNames.ToolNotAllowed;
  }
}

/** No tool of that name was configured. */
export class ToolNotFoundError extends ToolError {
  constructor(tool: string, known: readonly string[]) {
    super(`Tool "${tool}" does not exist (known tools: ${known.length ? known.join(', ') : 'none'}).`, {
      tool,
    });
    this.name = ErrorNames.ToolNotFound;
  }
}

/** The arguments do not match the tool's input schema. */
export class ToolInputError extends ToolError {
  readonly issues: ProblemIssue[];
  constructor(tool: string, issues: ProblemIssue[], options?: { cause?: unknown }) {
    const detail = issues.map((i) => `${i.path || '(input)'}: ${i.message}`).join('; ');
    super(`Invalid input for tool "${tool}": ${detail}`, { ...options, tool });
    this.name = ErrorNames.ToolInput;
    this.issues = issues;
  }
}

/** The tool is configured but switched off (e.g. shell without `enabled: true`). */
export class ToolDisabledError extends ToolError {
  constructor(tool: string, howToEnable: string) {
    super(`Tool "${tool}" is disabled. ${howToEnable}`, { tool });
    this.name = ErrorNames.ToolDisabled;
  }
}

/** The call ran out of time. Retryable: a slow upstream may be faster next time. */
export class ToolTimeoutError extends ToolError {
  override readonly retryable = true;
  readonly timeoutMs: number;
  constructor(tool: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(`Tool "${tool}" did not finish within ${timeoutMs} ms.`, { ...options, tool });
    this.name = ErrorNames.ToolTimeout;
    this.timeoutMs = timeoutMs;
  }
}

/** The caller aborted the call (ctx.signal), e.g. because the task was cancelled. */
export class ToolAbortedError extends ToolError {
  constructor(tool: string, options?: { cause?: unknown }) {
    super(`Tool "${tool}" was aborted.`, { ...options, tool });
    this.name = ErrorNames.ToolAborted;
  }
}

/** The tool ran but failed (network error, MCP server error, ...). */
export class ToolExecutionError extends ToolError {
  override readonly retryable: boolean;
  constructor(message: string, options?: ToolErrorOptions & { retryable?: boolean }) {
    super(message, options);
    this.name = ErrorNames.ToolExecution;
    this.retryable = options?.retryable ?? false;
  }
}

/** The http tool refused an address: private, loopback, link-local, metadata, ... */
export class SsrfBlockedError extends ToolError {
  readonly host: string;
  readonly address?: string;
  constructor(host: string, address: string | undefined, reason: string) {
    super(
      `Refused to connect to ${host}${address && address !== host ? ` (${address})` : ''}: ${reason}. ` +
        'Only public addresses are allowed unless the http tool config sets allowPrivate.',
      { tool: 'http' },
    );
    this.name = ErrorNames.SsrfBlocked;
    this.host = host;
    this.address = address;
  }
}

/** The http tool refused a host that is not on its allowHosts list. */
export class HostNotAllowedError extends ToolError {
  readonly host: string;
  constructor(host: string, allowHosts: readonly string[]) {
    super(`Host "${host}" is not on the http tool's allowHosts list (${allowHosts.join(', ')}).`, {
      tool: 'http',
    });
    this.name = ErrorNames.HostNotAllowed;
    this.host = host;
  }
}

/** The db tool refused a statement that is not a read. */
export class ReadOnlyViolationError extends ToolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, tool: 'db' });
    this.name = ErrorNames.ReadOnlyViolation;
  }
}

/**
 * The core error an agent Lambda should throw when it gives up because of `err`: retryable tool
 * errors become AgentFailedError (Step Functions retries the step), everything else
 * NonRetryableError. The original error is kept as `cause`.
 */
export function toStepError(err: unknown): AgentFailedError | NonRetryableError {
  if (err instanceof AgentFailedError || err instanceof NonRetryableError) return err;
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  if (err instanceof ToolError && !err.retryable) return new NonRetryableError(message, { cause: err });
  return new AgentFailedError(message, { cause: err });
}
