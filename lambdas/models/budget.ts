/**
 * Token budgets around any provider, and one report per model call for the audit trail.
 *
 * - The step budget counts the tokens of the calls made through this wrapper (create one wrapper
 *   per step attempt).
 * - The task budget adds the tokens the task used before: `used()` is read once, before the first
 *   call (the caller reads it from the event log), and the wrapper's own calls are added to it, so
 *   calls written to the event log while the step runs are not counted twice.
 * A call is refused when a budget is already spent, and a call that ends over a budget throws
 * (its reply is not returned). Both throw TokenBudgetExceededError, a NonRetryableError: a retry of
 * the step would only spend more.
 */
import { describeError, NonRetryableError } from '../core/errors.js';
import {
  addUsage,
  type GenerateRequest,
  type GenerateResult,
  type ModelProvider,
  type Usage,
  ZERO_USAGE,
} from './types.js';

export type TokenBudgetKind = 'step' | 'task';

/**
 * A token budget ran out. `name` stays `Baton.NonRetryable` (the name Step Functions matches);
 * `code` is `TokenBudgetExceeded`, and `budget`, `limit`, `used` say which budget and by how much.
 */
export class TokenBudgetExceededError extends NonRetryableError {
  readonly code = 'TokenBudgetExceeded';
  readonly budget: TokenBudgetKind;
  readonly limit: number;
  readonly used: number;
  constructor(details: {
    budget: TokenBudgetKind;
    limit: number;
    used: number;
    model: string;
    started: boolean;
  }) {
    const when = details.started ? 'after a call to' : 'before calling';
    super(
      `${details.budget} token budget exceeded ${when} ${details.model}: ${details.used} tokens used of a limit of ${details.limit}`,
    );
    this.budget = details.budget;
    this.limit = details.limit;
    this.used = details.used;
  }
}

/** What a call used, reported through `onUsage` for each call that reached the model. */
export type ModelUsageRecord = Usage & { model: string; durationMs: number };

/** One record per call through the wrapper (for an audit event), whatever its outcome. */
export interface ModelCallRecord {
  model: string;
  durationMs: number;
  usage: Usage;
  /** ok; over_budget: answered but the budget is now exceeded; refused: not started; error: failed. */
  outcome: 'ok' | 'over_budget' | 'refused' | 'error';
  stopReason?: GenerateResult['stopReason'];
  error?: { name: string; message: string };
  /** Tokens of this wrapper's calls so far, and of the task (when `used` or `taskTokens` is given). */
  stepTokensUsed: number;
  taskTokensUsed?: number;
}

export interface BudgetOptions {
  /** Most tokens (input + output) the calls through this wrapper may use. */
  stepTokens?: number;
  /** Most tokens the task may use, counting `used()` and this wrapper's calls. */
  taskTokens?: number;
  /** Tokens the task used before this wrapper's calls, read once before the first call. */
  used?: () => Promise<number> | number;
  onUsage?: (usage: ModelUsageRecord) => void;
  onCall?: (call: ModelCallRecord) => void;
  /** Clock for durationMs, in ms. Default: performance.now. */
  now?: () => number;
}

export interface BudgetedProvider extends ModelProvider {
  readonly inner: ModelProvider;
  /** Usage of the calls made through this wrapper. */
  readonly usage: Usage;
}

export function withBudget(provider: ModelProvider, options: BudgetOptions = {}): BudgetedProvider {
  checkLimit('stepTokens', options.stepTokens);
  checkLimit('taskTokens', options.taskTokens);
  const now = options.now ?? (() => performance.now());
  let usage: Usage = ZERO_USAGE;
  let baseline: Promise<number> | undefined;
  const trackTask = options.taskTokens !== undefined || options.used !== undefined;

  const taskBaseline = (): Promise<number> => {
    baseline ??= Promise.resolve()
      .then(() => options.used?.() ?? 0)
      .then((n) => {
        if (!Number.isFinite(n) || n < 0)
          throw new TypeError(`used() must return a token count >= 0, got ${n}`);
        return n;
      })
      .catch((err: unknown) => {
        baseline = undefined; // a failed read is tried again on the next call
        throw err;
      });
    return baseline;
  };

  const exceeded = async (started: boolean): Promise<TokenBudgetExceededError | undefined> => {
    const step = usage.totalTokens;
    const over = (limit: number | undefined, used: number) =>
      started ? used > (limit ?? Infinity) : used >= (limit ?? Infinity);
    if (options.stepTokens !== undefined && over(options.stepTokens, step)) {
      return new TokenBudgetExceededError({
        budget: 'step',
        limit: options.stepTokens,
        used: step,
        model: provider.id,
        started,
      });
    }
    if (options.taskTokens !== undefined) {
      const task = (await taskBaseline()) + step;
      if (over(options.taskTokens, task)) {
        return new TokenBudgetExceededError({
          budget: 'task',
          limit: options.taskTokens,
          used: task,
          model: provider.id,
          started,
        });
      }
    }
    return undefined;
  };

  const report = async (record: Omit<ModelCallRecord, 'stepTokensUsed' | 'taskTokensUsed'>) => {
    const taskTokensUsed = trackTask ? (await taskBaseline()) + usage.totalTokens : undefined;
    options.onCall?.({
      ...record,
      stepTokensUsed: usage.totalTokens,
      ...(trackTask ? { taskTokensUsed } : {}),
    });
  };

  return {
    id: provider.id,
    deterministic: provider.deterministic,
    inner: provider,
    get usage() {
      return usage;
    },
    async generate(req: GenerateRequest): Promise<GenerateResult> {
      const refused = await exceeded(false);
      if (refused) {
        await report({
          model: provider.id,
          durationMs: 0,
          usage: ZERO_USAGE,
          outcome: 'refused',
          error: describeError(refused),
        });
        throw refused;
      }
      const start = now();
      let result: GenerateResult;
      try {
        result = await provider.generate(req);
      } catch (err) {
        await report({
          model: provider.id,
          durationMs: now() - start,
          usage: ZERO_USAGE,
          outcome: 'error',
          error: describeError(err),
        });
        throw err;
      }
      const durationMs = now() - start;
      usage = addUsage(usage, result.usage);
      options.onUsage?.({ ...result.usage, model: result.model, durationMs });
      const over = await exceeded(true);
      await report({
        model: result.model,
        durationMs,
        usage: result.usage,
        outcome: over ? 'over_budget' : 'ok',
        stopReason: result.stopReason,
        ...(over ? { error: describeError(over) } : {}),
      });
      if (over) throw over;
      return result;
    },
  };
}

function checkLimit(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}
