import { describe, expect, it } from 'vitest';
import { ErrorNames, NonRetryableError } from '../../../lambdas/core/errors.js';
import {
  type ModelCallRecord,
  type ModelUsageRecord,
  TokenBudgetExceededError,
  withBudget,
} from '../../../lambdas/models/budget.js';
import { createOfflineProvider } from '../../../lambdas/models/offline.js';

const usage = (total: number) => ({ inputTokens: total - 10, outputTokens: 10, totalTokens: total });
const ask = { messages: [{ role: 'user' as const, content: 'Hi' }] };

/** A clock that advances 25 ms per reading. */
function fakeClock() {
  let t = 1000;
  return () => {
    t += 25;
    return t;
  };
}

describe('withBudget', () => {
  it('throws TokenBudgetExceededError when a call ends over the step budget', async () => {
    // Prepare
    const model = createOfflineProvider({
      responses: [
        { text: 'a', usage: usage(600) },
        { text: 'b', usage: usage(600) },
      ],
    });
    const budgeted = withBudget(model, { stepTokens: 1000 });
    // Act
    const first = await budgeted.generate(ask);
    const error = await budgeted.generate(ask).catch((e: unknown) => e);
    // Assess
    expect(first.text).toBe('a');
    expect(error).toBeInstanceOf(TokenBudgetExceededError);
    expect(error).toBeInstanceOf(NonRetryableError);
    const e = error as TokenBudgetExceededError;
    expect(e.name).toBe(ErrorNames.NonRetryable);
    expect(e.code).toBe('TokenBudgetExceeded');
    expect(e.constructor.name).toBe('TokenBudgetExceededError');
    expect({ budget: e.budget, limit: e.limit, used: e.used }).toEqual({
      budget: 'step',
      limit: 1000,
      used: 1200,
    });
    expect(e.message).toBe(
      'step token budget exceeded after a call to offline: 1200 tokens used of a limit of 1000',
    );
    expect(budgeted.usage.totalTokens).toBe(1200);
  });

  it('refuses to start a call once the step budget is spent', async () => {
    // Prepare
    const model = createOfflineProvider({ responses: [{ text: 'a', usage: usage(1000) }, { text: 'b' }] });
    const budgeted = withBudget(model, { stepTokens: 1000 });
    await budgeted.generate(ask);
    // Act
    const error = await budgeted.generate(ask).catch((e: unknown) => e);
    // Assess
    expect(model.calls).toHaveLength(1);
    expect((error as TokenBudgetExceededError).message).toBe(
      'step token budget exceeded before calling offline: 1000 tokens used of a limit of 1000',
    );
  });

  it('counts the task budget from used() plus its own calls, reading used() once', async () => {
    // Prepare
    let reads = 0;
    const model = createOfflineProvider({
      responses: [
        { text: 'a', usage: usage(300) },
        { text: 'b', usage: usage(300) },
      ],
    });
    const budgeted = withBudget(model, {
      taskTokens: 5000,
      stepTokens: 4000,
      used: async () => {
        reads++;
        return 4500;
      },
    });
    // Act
    const first = await budgeted.generate(ask);
    const error = await budgeted.generate(ask).catch((e: unknown) => e);
    // Assess
    expect(first.text).toBe('a');
    expect(reads).toBe(1);
    const e = error as TokenBudgetExceededError;
    expect(e).toBeInstanceOf(TokenBudgetExceededError);
    expect({ budget: e.budget, limit: e.limit, used: e.used }).toEqual({
      budget: 'task',
      limit: 5000,
      used: 5100,
    });
  });

  it('refuses the first call when the task has already spent its budget', async () => {
    // Prepare
    const model = createOfflineProvider();
    const budgeted = withBudget(model, { taskTokens: 2000, used: () => 2000 });
    // Act
    const error = await budgeted.generate(ask).catch((e: unknown) => e);
    // Assess
    expect(model.calls).toHaveLength(0);
    expect(error).toBeInstanceOf(TokenBudgetExceededError);
    expect((error as TokenBudgetExceededError).budget).toBe('task');
  });

  it('reports model, duration, usage and outcome for every call', async () => {
    // Prepare
    const usages: ModelUsageRecord[] = [];
    const calls: ModelCallRecord[] = [];
    let n = 0;
    const model = createOfflineProvider({
      respond: () => {
        n++;
        if (n === 2) throw new Error('upstream broke');
        return { text: `reply ${n}`, usage: usage(400) };
      },
    });
    const budgeted = withBudget(model, {
      stepTokens: 700,
      now: fakeClock(),
      onUsage: (u) => usages.push(u),
      onCall: (c) => calls.push(c),
    });
    // Act
    await budgeted.generate(ask);
    await budgeted.generate(ask).catch(() => undefined);
    await budgeted.generate(ask).catch(() => undefined);
    await budgeted.generate(ask).catch(() => undefined);
    // Assess
    expect(usages).toEqual([
      { ...usage(400), model: 'offline', durationMs: 25 },
      { ...usage(400), model: 'offline', durationMs: 25 },
    ]);
    expect(calls.map((c) => [c.outcome, c.usage.totalTokens, c.stepTokensUsed, c.durationMs])).toEqual([
      ['ok', 400, 400, 25],
      ['error', 0, 400, 25],
      ['over_budget', 400, 800, 25],
      ['refused', 0, 800, 0],
    ]);
    expect(calls[1]?.error).toEqual({ name: 'Error', message: 'upstream broke' });
    expect(calls[2]?.error?.name).toBe(ErrorNames.NonRetryable);
    expect(calls[0]?.stopReason).toBe('end');
  });

  it('rejects a budget that is not a positive integer', () => {
    // Act / Assess
    expect(() => withBudget(createOfflineProvider(), { stepTokens: 0 })).toThrow(
      'stepTokens must be a positive integer, got 0',
    );
  });
});
