/** The worst cases the planner puts in each Map item (lambdas/core/bounds.ts). */
import { describe, expect, it } from 'vitest';
import {
  approvalWorstSeconds,
  backoffWorstSeconds,
  dependencyWaitSeconds,
  invokeWorstSeconds,
  stepWorstSeconds,
  WORKFLOW_TIMING,
} from '../../lambdas/core/bounds.js';
import { normalizeStep } from '../../lambdas/core/plan.js';
import type { PlanStep, StepSpec } from '../../lambdas/core/schemas.js';

const L = WORKFLOW_TIMING.lambdaTaskSeconds;
const FLOOR = WORKFLOW_TIMING.dependencyWaitFloorSeconds;
const step = (spec: Partial<StepSpec> & { id: string }): PlanStep =>
  normalizeStep({ agent: 'research', ...spec });

describe('one step’s worst case', () => {
  it('counts an invocation with the Lambda-service retrier: 4 timeouts and 1+2+4 s of waits', () => {
    expect(invokeWorstSeconds(100)).toBe(4 * 100 + 7);
  });

  it('counts backoff waits at their largest, each capped at 600 s', () => {
    expect(backoffWorstSeconds({ maxAttempts: 4, intervalSeconds: 10, backoffRate: 2 })).toBe(10 + 20 + 40);
    expect(backoffWorstSeconds({ maxAttempts: 3, intervalSeconds: 300, backoffRate: 5 })).toBe(300 + 600);
    expect(backoffWorstSeconds({ maxAttempts: 1, intervalSeconds: 300, backoffRate: 5 })).toBe(0);
  });

  it('doubles an approval window when the policy escalates', () => {
    expect(approvalWorstSeconds({ approvalTimeoutSeconds: 1000 })).toBe(1000 + 2 * L);
    expect(approvalWorstSeconds({ approvalTimeoutSeconds: 1000, onApprovalTimeout: 'escalate' })).toBe(
      2 * (1000 + 2 * L),
    );
  });

  it('adds attempts, backoff, fallback, approval and reviews', () => {
    // Prepare
    const s = step({
      id: 'a',
      timeoutSeconds: 100,
      retry: { maxAttempts: 2, intervalSeconds: 10, backoffRate: 2 },
      fallbackAgent: 'writing',
      approval: 'before',
      approvalTimeoutSeconds: 1000,
    });
    const invoke = 4 * 100 + 7;
    const approval = 1000 + 2 * L;
    // Act
    const plain = stepWorstSeconds(s, {});
    const reviewed = stepWorstSeconds(s, { humanReviewOnFailure: true });
    // Assess
    expect(plain).toBe(L + approval + 2 * (invoke + L) + 10 + (invoke + L) + L);
    expect(reviewed - plain).toBe(3 * (approval + invoke + L));
  });
});

describe('the dependency wait of each step', () => {
  it('is the floor for a root step and the slowest chain above it for the others', () => {
    // Prepare: a ─▶ b ─▶ d, c ─▶ d; a is gated with a 3-day approval.
    const a = step({ id: 'a', timeoutSeconds: 60, approval: 'before', approvalTimeoutSeconds: 3 * 86400 });
    const b = step({ id: 'b', dependsOn: ['a'], timeoutSeconds: 60 });
    const c = step({ id: 'c', timeoutSeconds: 900 });
    const d = step({ id: 'd', dependsOn: ['b', 'c'] });
    // Act
    const wait = dependencyWaitSeconds([a, b, c, d], {});
    // Assess
    expect(wait.get('a')).toBe(FLOOR);
    expect(wait.get('c')).toBe(FLOOR);
    expect(wait.get('b')).toBe(FLOOR + stepWorstSeconds(a, {}));
    expect(wait.get('b')).toBeGreaterThan(3 * 86400);
    expect(wait.get('d')).toBe(FLOOR + stepWorstSeconds(a, {}) + stepWorstSeconds(b, {}));
  });

  it('outlasts a 7-day approval with escalation only up to the execution’s own limit', () => {
    // Prepare
    const gated = step({ id: 'gated', approval: 'before', approvalTimeoutSeconds: 7 * 86400 });
    const next = step({ id: 'next', dependsOn: ['gated'] });
    // Act
    const wait = dependencyWaitSeconds([gated, next], { onApprovalTimeout: 'escalate' });
    // Assess
    expect(wait.get('next')).toBe(WORKFLOW_TIMING.executionTimeoutSeconds);
  });

  it('is a whole number of seconds (TimeoutSecondsPath needs an integer)', () => {
    const a = step({ id: 'a', retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 1.5 } });
    const b = step({ id: 'b', dependsOn: ['a'] });
    expect(Number.isInteger(dependencyWaitSeconds([a, b], {}).get('b'))).toBe(true);
  });
});
