/** Per-step retry policy: capped exponential backoff with jitter. Pure. */
import { NON_RETRYABLE_ERRORS } from './errors.js';
import { LIMITS, type PlanStep } from './schemas.js';

export interface RetryDecision {
  retry: boolean;
  /** Whole seconds to wait before the next attempt (Step Functions Wait needs an integer). */
  waitSeconds: number;
  nextAttempt: number;
  reason: string;
}

/**
 * Decides whether attempt `attempt` (1-based) that failed with `errorName` is retried.
 * The delay is interval * backoffRate^(attempt-1), capped, then "equal jitter": half fixed,
 * half random, so the backoff stays visible in the events while retries of many steps spread.
 */
export function decideRetry(
  retry: PlanStep['retry'],
  attempt: number,
  errorName: string,
  random: () => number = Math.random,
): RetryDecision {
  const nextAttempt = attempt + 1;
  if ((NON_RETRYABLE_ERRORS as readonly string[]).includes(errorName)) {
    return { retry: false, waitSeconds: 0, nextAttempt, reason: `${errorName} is not retried` };
  }
  if (attempt >= retry.maxAttempts) {
    return { retry: false, waitSeconds: 0, nextAttempt, reason: `all ${retry.maxAttempts} attempts failed` };
  }
  const base = Math.min(
    LIMITS.maxRetryDelaySeconds,
    retry.intervalSeconds * retry.backoffRate ** (attempt - 1),
  );
  const waitSeconds = Math.round(base / 2 + random() * (base / 2));
  return { retry: true, waitSeconds, nextAttempt, reason: `attempt ${nextAttempt} of ${retry.maxAttempts}` };
}
