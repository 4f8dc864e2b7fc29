import { describe, expect, it } from 'vitest';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { decideOutcome, type StepOutcome } from '../../lambdas/core/outcome.js';
import { validatePlan } from '../../lambdas/core/plan.js';
import { decideRetry } from '../../lambdas/core/retry.js';
import { LIMITS } from '../../lambdas/core/schemas.js';

describe('retry decisions', () => {
  const retry = { maxAttempts: 4, intervalSeconds: 2, backoffRate: 3 };

  it('backs off exponentially with jitter between half and all of the delay', () => {
    // Act
    const low = [1, 2, 3].map((a) => decideRetry(retry, a, 'Baton.AgentFailed', () => 0).waitSeconds);
    const high = [1, 2, 3].map((a) => decideRetry(retry, a, 'Baton.AgentFailed', () => 1).waitSeconds);
    // Assess: base delays 2, 6, 18
    expect(low).toEqual([1, 3, 9]);
    expect(high).toEqual([2, 6, 18]);
  });

  it('stops after maxAttempts and never retries non-retryable errors', () => {
    expect(decideRetry(retry, 4, 'Baton.AgentFailed')).toMatchObject({
      retry: false,
      reason: 'all 4 attempts failed',
    });
    expect(decideRetry(retry, 1, ErrorNames.NonRetryable).retry).toBe(false);
    expect(decideRetry(retry, 1, ErrorNames.ContractViolation).retry).toBe(false);
    expect(decideRetry(retry, 1, 'States.Timeout')).toMatchObject({ retry: true, nextAttempt: 2 });
  });

  it('caps any single delay', () => {
    const d = decideRetry({ maxAttempts: 10, intervalSeconds: 300, backoffRate: 5 }, 9, 'X', () => 1);
    expect(d.waitSeconds).toBe(LIMITS.maxRetryDelaySeconds);
  });
});

describe('task outcome', () => {
  const plan = validatePlan(
    {
      steps: [
        { id: 'a', agent: 'echo' },
        { id: 'opt', agent: 'echo', optional: true },
      ],
    },
    { knownAgents: new Set(['echo']), source: 'explicit' },
  );
  const ok: StepOutcome = { status: 'SUCCEEDED', summary: 's', artifacts: [{ id: 'x' }] };
  const failed: StepOutcome = { status: 'FAILED', error: { name: 'E', message: 'm' } };

  it('succeeds when every step succeeded and lists what each produced', () => {
    const o = decideOutcome(
      plan,
      new Map([
        ['a', ok],
        ['opt', ok],
      ]),
      {},
    );
    expect(o.status).toBe('SUCCEEDED');
    expect(o.result.steps.a).toEqual({ status: 'SUCCEEDED', summary: 's', artifacts: ['x'] });
  });

  it('is DEGRADED when only an optional step failed', () => {
    const o = decideOutcome(
      plan,
      new Map([
        ['a', ok],
        ['opt', failed],
      ]),
      {},
    );
    expect(o).toMatchObject({ status: 'DEGRADED', missing: ['opt'] });
  });

  it('fails when a required step failed, unless the policy allows degraded', () => {
    const results = new Map([
      ['a', failed],
      ['opt', ok],
    ]);
    const o = decideOutcome(plan, results, {});
    expect(o.status).toBe('FAILED');
    expect(o.error?.message).toBe('required step a did not succeed (a: E: m)');
    expect(decideOutcome(plan, results, { allowDegraded: true }).status).toBe('DEGRADED');
  });
});
