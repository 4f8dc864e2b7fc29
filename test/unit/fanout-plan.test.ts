/** Fan-out steps (`forEach`) in a plan: the contract, validation, the implicit dependency, limits. */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors.js';
import { validatePlan } from '../../lambdas/core/plan.js';
import { CreateTaskBody, LIMITS, type PlanSpec, StepSpec } from '../../lambdas/core/schemas.js';

const agents = new Set(['research', 'writing', 'echo', 'data']);
const inputs = { datasets: [{ name: 'companies.csv', contentType: 'text/csv', body: 'name\nAcme\n' }] };

function issuesOf(spec: PlanSpec, withInputs: Record<string, never> | typeof inputs = inputs) {
  try {
    validatePlan(spec, { knownAgents: agents, source: 'explicit', inputs: withInputs });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues ?? [];
    throw err;
  }
  return [];
}

describe('fan-out steps in a plan', () => {
  it('takes the fixed contract and applies its defaults', () => {
    // Prepare
    const spec: PlanSpec = {
      steps: [
        {
          id: 'enrich',
          agent: 'research',
          input: { focus: 'funding' },
          forEach: { items: 'inputs.datasets.companies.csv' },
          retry: { maxAttempts: 2 },
          timeoutSeconds: 60,
        },
      ],
    };
    // Act
    const plan = validatePlan(spec, { knownAgents: agents, source: 'explicit', inputs });
    // Assess
    expect(plan.steps[0]?.forEach).toEqual({
      items: 'inputs.datasets.companies.csv',
      maxConcurrency: LIMITS.defaultFanOutConcurrency,
      itemsPerBatch: 1,
      toleratedFailurePercentage: 0,
    });
    expect(plan.steps[0]).toMatchObject({ timeoutSeconds: 60, retry: { maxAttempts: 2 } });
  });

  it('makes the step an items reference names a dependency (implicitly), and orders the plan by it', () => {
    // Prepare
    const spec: PlanSpec = {
      steps: [
        { id: 'each', agent: 'echo', forEach: { items: 'steps.rows.artifacts.result.csv' } },
        { id: 'rows', agent: 'data' },
        { id: 'also', agent: 'echo', forEach: { items: 'steps.rows.output.rows' }, dependsOn: ['rows'] },
      ],
    };
    // Act
    const plan = validatePlan(spec, { knownAgents: agents, source: 'explicit' });
    // Assess
    expect(plan.steps.map((s) => [s.id, s.dependsOn])).toEqual([
      ['rows', []],
      ['each', ['rows']],
      ['also', ['rows']],
    ]);
  });

  it('refuses a dataset the inputs do not have, an unknown or own step, and a fallback agent', () => {
    // Act
    const issues = issuesOf({
      steps: [
        { id: 'a', agent: 'echo', forEach: { items: 'inputs.datasets.nope.csv' } },
        { id: 'b', agent: 'echo', forEach: { items: 'steps.ghost.output.rows' } },
        { id: 'c', agent: 'echo', forEach: { items: 'steps.c.output.rows' } },
        {
          id: 'd',
          agent: 'echo',
          fallbackAgent: 'echo',
          forEach: { items: 'inputs.datasets.companies.csv' },
        },
      ],
    });
    // Assess
    expect(issues).toEqual([
      {
        path: 'plan.steps[0].forEach.items',
        message: 'inputs.datasets has no dataset "nope.csv" (datasets: companies.csv)',
      },
      { path: 'plan.steps[1].forEach.items', message: '"ghost" is not a step of this plan' },
      { path: 'plan.steps[2].forEach.items', message: 'step "c" cannot fan out over its own results' },
      {
        path: 'plan.steps[3].fallbackAgent',
        message: 'a fan-out step (forEach) has no fallback agent: its retry applies to each item',
      },
    ]);
    expect(
      issuesOf({ steps: [{ id: 'a', agent: 'echo', forEach: { items: 'inputs.datasets.x' } }] }, {}),
    ).toEqual([
      {
        path: 'plan.steps[0].forEach.items',
        message: 'inputs.datasets has no dataset "x" (the task has no inputs.datasets)',
      },
    ]);
  });

  it('finds a cycle an items reference closes', () => {
    const issues = issuesOf({
      steps: [
        { id: 'a', agent: 'echo', dependsOn: ['b'] },
        { id: 'b', agent: 'echo', forEach: { items: 'steps.a.output.rows' } },
      ],
    });
    expect(issues[0]?.message).toMatch(/cycle/);
  });

  it('checks the forEach fields and their limits in the request body', () => {
    // Act
    const bad = [
      { items: 'datasets.x' },
      { items: 'inputs.datasets.x', maxConcurrency: LIMITS.maxFanOutConcurrency + 1 },
      { items: 'inputs.datasets.x', itemsPerBatch: 0 },
      { items: 'inputs.datasets.x', itemsPerBatch: LIMITS.maxItemsPerBatch + 1 },
      { items: 'inputs.datasets.x', toleratedFailurePercentage: 101 },
      { items: 'inputs.datasets.x', extra: true },
    ].map((forEach) => StepSpec.safeParse({ id: 's', agent: 'echo', forEach }).success);
    const good = [
      { items: 's3://my-bucket/reports/2026/' },
      {
        items: 'steps.a.output.deep.list',
        maxConcurrency: 10000,
        itemsPerBatch: 1000,
        toleratedFailurePercentage: 0,
      },
    ].map((forEach) => StepSpec.safeParse({ id: 's', agent: 'echo', forEach }).success);
    // Assess
    expect(bad).toEqual([false, false, false, false, false, false]);
    expect(good).toEqual([true, true]);
  });

  it('counts explicit steps against the 200-step limit, whatever their items', () => {
    const steps = Array.from({ length: LIMITS.maxSteps + 1 }, (_, i) => ({ id: `s${i}`, agent: 'echo' }));
    const body = CreateTaskBody.safeParse({ goal: 'g', plan: { steps } });
    expect(body.success).toBe(false);
  });
});
