import { describe, expect, it } from 'vitest';
import { validatePlan } from '../../../lambdas/core/plan.js';
import type { PlanSpec } from '../../../lambdas/core/schemas.js';
import {
  dataSpec,
  FACETS,
  fanOutItems,
  goalBranches,
  goalParts,
  planFromGoal,
  researchTopics,
} from '../../../lambdas/orchestrator/offline-planner.js';
import { inputIssues, planGoal } from '../../../lambdas/orchestrator/planner.js';

const known = new Set(['research', 'writing', 'review', 'data', 'coding']);
const shape = (spec: PlanSpec) => spec.steps.map((s) => [s.id, s.agent, s.dependsOn ?? []]);

/** Steps that can run at the same time as `id` (neither depends on the other, transitively). */
function parallelTo(spec: PlanSpec, id: string): string[] {
  const deps = new Map(spec.steps.map((s) => [s.id, s.dependsOn ?? []]));
  const ancestors = (x: string): Set<string> => {
    const out = new Set<string>();
    const walk = (y: string) => {
      for (const d of deps.get(y) ?? []) {
        if (out.has(d)) continue;
        out.add(d);
        walk(d);
      }
    };
    walk(x);
    return out;
  };
  return spec.steps
    .map((s) => s.id)
    .filter((o) => o !== id && !ancestors(id).has(o) && !ancestors(o).has(id));
}

describe('the deterministic planner', () => {
  it('plans "research X in ./docs, write a one-page brief, review it" as parallel research, writing, review', () => {
    // Act
    const made = planFromGoal(
      'Research heat pumps in ./docs and write a one-page brief, then review it',
      known,
    );
    // Assess
    expect(shape(made.spec)).toEqual([
      ['research-1', 'research', []],
      ['research-2', 'research', []],
      ['write', 'writing', ['research-1', 'research-2']],
      ['review', 'review', ['write']],
    ]);
    expect(parallelTo(made.spec, 'research-1')).toEqual(['research-2']);
    expect(made.spec.steps.map((s) => s.input)).toEqual([
      { topic: 'heat pumps', focus: FACETS[0] },
      { topic: 'heat pumps', focus: FACETS[1] },
      { title: 'Brief: heat pumps', format: 'brief', maxWords: 500 },
      { requiredSections: ['Summary', 'Sources'], requireCitations: true, maxWords: 700 },
    ]);
    expect(made.rationale).toMatch(/^Deterministic rule-based plan \(no model configured\)/);
    expect(made.rationale).toContain('research-1 and research-2 research "heat pumps" in parallel');
    expect(inputIssues(made.spec)).toEqual([]);
    expect(() => validatePlan(made.spec, { knownAgents: known, source: 'planner:offline' })).not.toThrow();
  });

  it('researches each named topic in parallel and composes them when no write step is asked for', () => {
    const made = planFromGoal('Compare solar power and wind power', known);
    expect(shape(made.spec)).toEqual([
      ['research-1', 'research', []],
      ['research-2', 'research', []],
      ['write', 'writing', ['research-1', 'research-2']],
    ]);
    expect(made.spec.steps.slice(0, 2).map((s) => s.input?.topic)).toEqual(['solar power', 'wind power']);
  });

  it('plans a data analysis with the aggregate the goal names, when the dataset has those columns', () => {
    const inputs = {
      datasets: [{ name: 'sales.csv', contentType: 'text/csv', body: 'region,revenue\nnorth,10\n' }],
    };
    const made = planFromGoal('Analyse the sales CSV: total revenue by region', known, inputs);
    expect(shape(made.spec)).toEqual([
      ['data', 'data', []],
      ['write', 'writing', ['data']],
    ]);
    expect(made.spec.steps[0]?.input).toEqual({
      groupBy: 'region',
      aggregate: { fn: 'sum', column: 'revenue' },
    });
    expect(inputIssues(made.spec)).toEqual([]);
  });

  it('analyses several datasets in parallel', () => {
    const csv = (h: string) => ({ name: `${h}.csv`, contentType: 'text/csv', body: 'a,b\n1,2\n' });
    const made = planFromGoal('Analyze the data', known, { datasets: [csv('one'), csv('two')] });
    expect(shape(made.spec)).toEqual([
      ['data-1', 'data', []],
      ['data-2', 'data', []],
      ['write', 'writing', ['data-1', 'data-2']],
    ]);
    expect(made.spec.steps.slice(0, 2).map((s) => s.input)).toEqual([
      { dataset: 'one.csv' },
      { dataset: 'two.csv' },
    ]);
  });

  it('plans code as coding then a review of its result', () => {
    const made = planFromGoal('Write a script that reverses a string and test it', known);
    expect(shape(made.spec)).toEqual([
      ['code', 'coding', []],
      ['review', 'review', ['code']],
    ]);
    expect(made.spec.steps[1]?.input).toEqual({
      requiredSections: ['Result'],
      expectOutput: { passed: true },
    });
  });

  it('splits a multi-part request into parallel branches', () => {
    const inputs = { datasets: [{ name: 'usage.csv', contentType: 'text/csv', body: 'a\n1\n' }] };
    const made = planFromGoal(
      'Implement a CSV parser; research heat pumps and write a report',
      known,
      inputs,
    );
    expect(shape(made.spec)).toEqual([
      ['code', 'coding', []],
      ['review', 'review', ['code']],
      ['research-1', 'research', []],
      ['research-2', 'research', []],
      ['write', 'writing', ['research-1', 'research-2']],
    ]);
    expect(parallelTo(made.spec, 'code')).toEqual(['research-1', 'research-2', 'write']);
  });

  it('continues the previous part when a part only writes or reviews', () => {
    const made = planFromGoal('Research wind power; write a brief about it. Review it', known);
    expect(shape(made.spec)).toEqual([
      ['research-1', 'research', []],
      ['research-2', 'research', []],
      ['write', 'writing', ['research-1', 'research-2']],
      ['review', 'review', ['write']],
    ]);
  });

  it('leaves out agents the deployment lacks, and says so', () => {
    const made = planFromGoal(
      'Research heat pumps and write a brief, then review it',
      new Set(['research', 'writing']),
    );
    expect(shape(made.spec).map(([id]) => id)).toEqual(['research-1', 'research-2', 'write']);
    expect(made.rationale).toContain('review left out: no "review" agent in this deployment');
  });

  it('parses goals into parts and topics', () => {
    expect(goalParts('Research wind and solar in ./docs and write a brief, then review it')).toEqual([
      'Research wind and solar in ./docs',
      'write a brief',
      'review it',
    ]);
    expect(goalBranches('Research wind; analyse the data. Then write a report')).toEqual([
      ['Research wind'],
      ['analyse the data'],
      ['write a report'],
    ]);
    expect(researchTopics('Research wind and solar in ./docs')).toEqual(['wind', 'solar']);
    expect(researchTopics('investigate the pros and cons of heat pumps')).toEqual([
      'pros and cons of heat pumps',
    ]);
    expect(dataSpec('average price per city', ['City', 'Price'])).toEqual({
      groupBy: 'City',
      aggregate: { fn: 'avg', column: 'Price' },
    });
    expect(dataSpec('tell me about it', ['a'])).toEqual({});
  });
});

describe('fan-out plans ("each" / "every" over a dataset)', () => {
  const inputs = {
    datasets: [{ name: 'companies.csv', contentType: 'text/csv', body: 'name,country\nAcme,NO\nBeta,IT\n' }],
  };

  it('proposes one fan-out step over the dataset, then writes its results up', async () => {
    // Act
    const p = await planGoal({
      goal: 'Research each of these companies and write a brief',
      inputs,
      knownAgents: known,
    });
    expect(p.steps.map((s) => [s.id, s.agent, s.dependsOn, s.forEach?.items])).toEqual([
      ['each', 'research', [], 'inputs.datasets.companies.csv'],
      ['write', 'writing', ['each'], undefined],
    ]);
    expect(p.rationale).toMatch(/each runs research once per item of inputs\.datasets\.companies\.csv/);
    expect(p.source).toBe('planner:offline');
  });

  it('fans out over an s3:// prefix the goal names, and not without each/every or items', () => {
    expect(fanOutItems('summarise every file under s3://reports/2026/q1/.', [])).toBe(
      's3://reports/2026/q1/',
    );
    expect(fanOutItems('classify each row of sales', ['sales.csv', 'costs.csv'])).toBe(
      'inputs.datasets.sales.csv',
    );
    expect(fanOutItems('classify each row', ['sales.csv', 'costs.csv'])).toBeUndefined();
    expect(fanOutItems('research the companies', ['companies.csv'])).toBeUndefined();
    expect(fanOutItems('research each company', [])).toBeUndefined();
  });
});
