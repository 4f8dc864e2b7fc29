import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors.js';
import {
  criticalPath,
  findCycle,
  planIssues,
  topologicalOrder,
  validatePlan,
} from '../../lambdas/core/plan.js';
import type { PlanSpec } from '../../lambdas/core/schemas.js';

const agents = new Set(['research', 'writing', 'echo']);

describe('plan validation', () => {
  it('accepts a diamond and orders it topologically with defaults applied', () => {
    // Prepare
    const spec: PlanSpec = {
      steps: [
        { id: 'd', agent: 'writing', dependsOn: ['b', 'c'] },
        { id: 'b', agent: 'research', dependsOn: ['a'] },
        { id: 'a', agent: 'research' },
        { id: 'c', agent: 'echo', dependsOn: ['a'] },
      ],
    };
    // Act
    const plan = validatePlan(spec, { knownAgents: agents, source: 'explicit' });
    // Assess
    expect(plan.steps.map((s) => s.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(plan.steps[0]).toMatchObject({ input: {}, dependsOn: [], approval: 'none', optional: false });
    expect(plan.steps[0]?.retry.maxAttempts).toBeGreaterThan(0);
  });

  it('reports the cycle it finds', () => {
    const spec: PlanSpec = {
      steps: [
        { id: 'a', agent: 'echo', dependsOn: ['c'] },
        { id: 'b', agent: 'echo', dependsOn: ['a'] },
        { id: 'c', agent: 'echo', dependsOn: ['b'] },
      ],
    };
    const issues = planIssues(spec, agents);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toBe('the plan has a cycle: a depends on c depends on b depends on a');
    expect(() => validatePlan(spec, { knownAgents: agents, source: 'explicit' })).toThrow(ValidationError);
  });

  it('reports duplicate ids, unknown dependencies, self-dependencies and unknown agents together', () => {
    const spec: PlanSpec = {
      steps: [
        { id: 'a', agent: 'nope' },
        { id: 'a', agent: 'echo', dependsOn: ['ghost'] },
        { id: 'b', agent: 'echo', dependsOn: ['b'], fallbackAgent: 'also-nope' },
      ],
    };
    const messages = planIssues(spec, agents).map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual([
      'plan.steps[1].id: duplicate step id "a" (also plan.steps[0])',
      'plan.steps[0].agent: unknown agent "nope"; known agents: echo, research, writing',
      'plan.steps[1].dependsOn[0]: "ghost" is not a step of this plan',
      'plan.steps[2].fallbackAgent: unknown agent "also-nope"; known agents: echo, research, writing',
      'plan.steps[2].dependsOn[0]: step "b" depends on itself',
    ]);
  });

  it('keeps the listed order among independent steps', () => {
    const order = topologicalOrder([{ id: 'x' }, { id: 'y', dependsOn: ['z'] }, { id: 'z' }]);
    expect(order.map((s) => s.id)).toEqual(['x', 'z', 'y']);
  });

  it('finds no cycle in a DAG and computes its critical path', () => {
    const spec: PlanSpec = {
      steps: [
        { id: 'a', agent: 'echo' },
        { id: 'b', agent: 'echo', dependsOn: ['a'] },
        { id: 'c', agent: 'echo', dependsOn: ['a'] },
        { id: 'd', agent: 'echo', dependsOn: ['b', 'c'] },
      ],
    };
    expect(findCycle(spec.steps)).toBeUndefined();
    const plan = validatePlan(spec, { knownAgents: agents, source: 'explicit' });
    const ms: Record<string, number> = { a: 1, b: 5, c: 1, d: 1 };
    expect(criticalPath(plan.steps, (s) => ms[s.id] ?? 0)).toBe(7);
  });
});
