/** Plan validation refuses a plan whose worst case exceeds the execution history quota. */
import { describe, expect, it } from 'vitest';
import { problemFor } from '../../lambdas/api/http.js';
import {
  HISTORY_PATHS,
  HISTORY_QUOTA,
  planHistoryEvents,
  stepHistoryEvents,
} from '../../lambdas/core/bounds.js';
import { ValidationError } from '../../lambdas/core/errors.js';
import { normalizeStep, validatePlan } from '../../lambdas/core/plan.js';
import type { PlanSpec } from '../../lambdas/core/schemas.js';

const knownAgents = new Set(['research', 'writing']);
/** `n` independent steps with `maxAttempts` attempts each. */
const wide = (n: number, maxAttempts: number): PlanSpec => ({
  steps: Array.from({ length: n }, (_, i) => ({ id: `s${i}`, agent: 'research', retry: { maxAttempts } })),
});

describe('the history worst case of a plan', () => {
  it('counts ~15 events per step and ~16 per failed attempt, plus the task’s own', () => {
    // Prepare
    const step = normalizeStep({ id: 'a', agent: 'research', retry: { maxAttempts: 10 } });
    // Act
    const events = planHistoryEvents([step], {});
    // Assess
    expect(stepHistoryEvents(step, {})).toBe(HISTORY_PATHS.step + 10 * 16);
    expect(events).toBe(HISTORY_PATHS.task + 15 + 10 * 16);
  });

  it('counts approvals (doubled by escalation), the fallback and the reviews', () => {
    const step = normalizeStep({ id: 'a', agent: 'research', approval: 'before', fallbackAgent: 'writing' });
    const plain = stepHistoryEvents(step, {});
    expect(stepHistoryEvents(step, { onApprovalTimeout: 'escalate' }) - plain).toBe(
      HISTORY_PATHS.approvalRound,
    );
    expect(stepHistoryEvents(step, { humanReviewOnFailure: true }) - plain).toBe(
      3 * (HISTORY_PATHS.approvalRound + HISTORY_PATHS.reviewExtra),
    );
  });
});

describe('plan validation and the history quota', () => {
  it('refuses 200 steps × 10 attempts with a 400 problem that gives the numbers', () => {
    // Act
    let caught: unknown;
    try {
      validatePlan(wide(200, 10), { knownAgents, source: 'explicit' });
    } catch (err) {
      caught = err;
    }
    // Assess
    expect(caught).toBeInstanceOf(ValidationError);
    const problem = problemFor(caught);
    expect(problem?.status).toBe(400);
    const expected = HISTORY_PATHS.task + 200 * (15 + 10 * 16);
    expect(problem?.detail).toContain(`${expected} execution history events`);
    expect(problem?.detail).toContain(`quota of ${HISTORY_QUOTA}`);
    expect((caught as ValidationError).issues).toEqual([
      { path: 'plan.steps', message: expect.stringContaining(String(expected)) },
    ]);
  });

  it('accepts 200 steps with the default 3 attempts, and counts the policy’s gates', () => {
    expect(validatePlan(wide(200, 3), { knownAgents, source: 'explicit' }).steps).toHaveLength(200);
    // 120 steps × 10 attempts fit (120 × 177 + 22), but not once every step may go to 3 reviews.
    expect(() => validatePlan(wide(120, 10), { knownAgents, source: 'explicit' })).not.toThrow();
    expect(() =>
      validatePlan(wide(120, 10), {
        knownAgents,
        source: 'explicit',
        policy: { humanReviewOnFailure: true },
      }),
    ).toThrow(ValidationError);
  });
});
