/**
 * Capped exponential backoff with full jitter (delay = random * min(cap, base * 2^(n-1))), the
 * scheme AWS recommends. Sleep and randomness are injectable so tests need no clock.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { BatonError, ErrorNames } from '../core/errors.js';

export interface RetryPolicy {
  /** Attempts in total, including the first. */
  maxAttempts: number;
  /** Base of the exponential delay, in ms. */
  baseDelayMs: number;
  /** Cap of one delay, in ms. */
  maxDelayMs: number;
}

export interface RetryOptions {
  policy: RetryPolicy;
  /** Whether an error is worth another attempt. */
  isRetryable: (err: unknown) => boolean;
  signal?: AbortSignal;
  /** Waits `ms`, rejecting when `signal` aborts. Default: node:timers/promises setTimeout. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** A number in [0, 1). Default: Math.random. */
  random?: () => number;
  /** Called before each wait, e.g. to log. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** Thrown by withRetry: the last error and how many attempts were made. */
export class RetriesExhausted extends BatonError {
  readonly attempts: number;
  readonly retryable: boolean;
  constructor(attempts: number, retryable: boolean, cause: unknown) {
    super(`gave up after ${attempts} attempt(s)`, { cause });
    this.name = ErrorNames.RetriesExhausted;
    this.attempts = attempts;
    this.retryable = retryable;
  }
}

export function backoffDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

const defaultSleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
  await sleepTimer(ms, undefined, { signal });
};

/**
 * Runs `fn` until it succeeds, an error is not retryable, or the attempts run out; then throws
 * RetriesExhausted with the last error as `cause`. An aborted signal ends it at once with the
 * abort reason.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, isRetryable, signal } = options;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      const retryable = isRetryable(error);
      if (!retryable || attempt >= maxAttempts) throw new RetriesExhausted(attempt, retryable, error);
      const delayMs = backoffDelayMs(attempt, policy, random);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal);
    }
  }
}
