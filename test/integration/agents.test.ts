/**
 * The role agents end to end through the local runtime, with no model configured (the offline
 * provider): planning from a goal, research over the fixture corpus (test/fixtures/docs), writing
 * with carried-over citations, review, data analysis over a CSV, the coding sandbox, and the http
 * tool's refusal of the cloud metadata address — every tool call in the audit trail.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCitations, splitSources } from '../../lambdas/agents/citations.js';
import type { StepView, TaskView } from '../../lambdas/core/schemas.js';
import { type Harness, startHarness } from './harness.js';

const CONFIG = resolve(import.meta.dirname, '../fixtures/agents.config.json');

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ configPath: CONFIG, env: { BATON_MODEL_CONFIG: '' } });
});
afterAll(async () => {
  await h?.close();
});

type Step = StepView;
type Task = TaskView;
/** A step's output, which these agents return as a JSON object. */
function outputOf(step: Step | undefined): Record<string, unknown> {
  const output = step?.output;
  if (!output || typeof output !== 'object' || Array.isArray(output))
    throw new Error(`step ${step?.id} has no object output`);
  return output;
}
type Artifact = { id: string; stepId: string; name: string; contentType: string };

const submit = (body: Record<string, unknown>) => h.submit(body);
const events = (taskId: string) => h.events(taskId);
async function artifacts(taskId: string): Promise<Artifact[]> {
  return (await h.api<{ artifacts: Artifact[] }>('GET', `/tasks/${taskId}/artifacts`)).body.artifacts;
}
async function text(taskId: string, a: Artifact | undefined): Promise<string> {
  if (!a) throw new Error('no such artifact');
  return (await h.api('GET', `/tasks/${taskId}/artifacts/${a.id}`)).raw.toString('utf8');
}

describe('"Research <topic> in ./docs and write a one-page brief, then review it", with no model', () => {
  let taskId: string;
  let task: Task;
  beforeAll(async () => {
    taskId = await submit({
      goal: 'Research heat pumps in ./docs and write a one-page brief, then review it',
    });
    task = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED', 'DEGRADED']);
  });

  it('plans parallel research steps, a writing step over both, and a review, and says it used rules', () => {
    expect(task.status).toBe('SUCCEEDED');
    expect(task.plan.source).toBe('planner:offline');
    expect(task.plan.rationale).toMatch(
      /^Deterministic rule-based plan \(no model configured\): research-1 and research-2 research "heat pumps" in parallel/,
    );
    expect(task.plan.steps.length).toBeGreaterThanOrEqual(3);
    expect(task.plan.steps.map((s) => [s.id, s.agent, s.dependsOn, s.status])).toEqual([
      ['research-1', 'research', [], 'SUCCEEDED'],
      ['research-2', 'research', [], 'SUCCEEDED'],
      ['write', 'writing', ['research-1', 'research-2'], 'SUCCEEDED'],
      ['review', 'review', ['write'], 'SUCCEEDED'],
    ]);
  });

  it('writes cited research notes and a brief whose citations all resolve to its sources', async () => {
    const arts = await artifacts(taskId);
    expect(arts.map((a) => [a.stepId, a.name]).sort()).toEqual([
      ['research-1', 'notes.md'],
      ['research-2', 'notes.md'],
      ['review', 'review.md'],
      ['write', 'document.md'],
    ]);
    for (const step of ['research-1', 'research-2']) {
      const notes = await text(
        taskId,
        arts.find((a) => a.stepId === step),
      );
      const check = checkCitations(notes);
      expect(check.markers.length).toBeGreaterThan(0);
      expect(check.dangling).toEqual([]);
      expect([...check.sources.values()].every((s) => /\((heat-pumps|heat-pump-costs)\.md\)$/.test(s))).toBe(
        true,
      );
    }
    const brief = await text(
      taskId,
      arts.find((a) => a.name === 'document.md'),
    );
    expect(brief).toMatch(/^# Brief: heat pumps\n\n## Summary\n/);
    const check = checkCitations(brief);
    expect(check.markers.length).toBeGreaterThanOrEqual(3);
    expect(check.dangling).toEqual([]);
    expect(check.uncited).toEqual([]);
    expect([...check.sources.values()]).toEqual(
      expect.arrayContaining([
        'Heat pumps (heat-pumps.md)',
        'Costs and limits of heat pumps (heat-pump-costs.md)',
      ]),
    );
    expect(splitSources(brief).body.split(/\s+/).length).toBeLessThanOrEqual(500);
  });

  it('ends with a passing review verdict', async () => {
    const review = task.plan.steps.find((s) => s.id === 'review');
    expect(review?.output).toEqual({
      verdict: 'pass',
      reasons: [],
      checked: ['write/document.md'],
      mode: 'offline',
    });
  });

  it('puts every tool call of the research steps in the audit trail', async () => {
    const all = await events(taskId);
    const calls = all.filter((e) => e.type === 'ToolCalled');
    expect(new Set(calls.map((e) => e.stepId))).toEqual(new Set(['research-1', 'research-2']));
    for (const e of calls) {
      expect(e.id).toMatch(new RegExp(`^r1\\.ToolCalled\\.${e.stepId}\\.1\\.\\d+$`));
      expect(e.data).toMatchObject({
        tool: 'search',
        outcome: 'ok',
        attempt: 1,
        argsDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
        durationMs: expect.any(Number),
      });
    }
    // each tool call is recorded between its step's start and its step's success
    for (const step of ['research-1', 'research-2']) {
      const seq = (type: string) => all.find((e) => e.type === type && e.stepId === step)?.seq ?? -1;
      for (const e of calls.filter((c) => c.stepId === step)) {
        expect(e.seq).toBeGreaterThan(seq('StepStarted'));
        expect(e.seq).toBeLessThan(seq('StepSucceeded'));
      }
    }
    expect(all.some((e) => e.type === 'ModelCalled')).toBe(false); // no model, no model calls
  });
});

describe('a data task over a CSV', () => {
  const rows = [
    ['north', 3, 1200],
    ['south', 1, 1100],
    ['north', 10, 250],
    ['east', 4, 240],
    ['south', 6, 260],
    ['north', 2, 1210],
  ] as const;
  const body = `region,units,price\n${rows.map((r) => r.join(',')).join('\n')}\n`;

  it('computes the aggregate the goal asks for, matching a hand computation', async () => {
    // Prepare: revenue by hand, per region
    const revenue: Record<string, number> = {};
    for (const [region, units, price] of rows) revenue[region] = (revenue[region] ?? 0) + units * price;
    const units: Record<string, number> = {};
    for (const [region, n] of rows) units[region] = (units[region] ?? 0) + n;
    // Act
    const taskId = await submit({
      goal: 'Analyse the sales CSV: total units by region',
      inputs: { datasets: [{ name: 'sales.csv', contentType: 'text/csv', body }] },
    });
    const task = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    // Assess
    expect(task.status).toBe('SUCCEEDED');
    expect(task.plan.steps.map((s) => [s.id, s.agent, s.dependsOn])).toEqual([
      ['data', 'data', []],
      ['write', 'writing', ['data']],
    ]);
    const data = task.plan.steps[0];
    expect(data?.output).toMatchObject({
      mode: 'aggregate',
      dataset: 'sales.csv',
      columns: ['region', 'sum_units'],
    });
    const rowsOf = (step: Step | undefined) => (outputOf(step).rows ?? []) as [string, number][];
    expect(Object.fromEntries(rowsOf(data))).toEqual(units);
    const arts = await artifacts(taskId);
    const csv = await text(
      taskId,
      arts.find((a) => a.name === 'result.csv'),
    );
    expect(csv).toBe(`region,sum_units\neast,${units.east}\nnorth,${units.north}\nsouth,${units.south}\n`);
    expect(
      await text(
        taskId,
        arts.find((a) => a.name === 'document.md'),
      ),
    ).toContain(`| north | ${units.north} |`);

    // and an explicit SQL step over the same data: revenue per region
    const sqlTask = await submit({
      goal: 'revenue',
      inputs: { datasets: [{ name: 'sales.csv', contentType: 'text/csv', body }] },
      plan: {
        steps: [
          {
            id: 'q',
            agent: 'data',
            input: {
              sql: 'SELECT region, SUM(units * price) AS revenue FROM sales GROUP BY region ORDER BY region',
            },
          },
        ],
      },
    });
    const done = await h.waitFor(sqlTask, ['SUCCEEDED', 'FAILED']);
    expect(Object.fromEntries(rowsOf(done.plan.steps[0]))).toEqual(revenue);
  });
});

describe('the http tool through an agent', () => {
  it('refuses the cloud metadata address; the ToolCalled event records the refusal', async () => {
    const url = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
    const taskId = await submit({
      goal: 'fetch',
      plan: { steps: [{ id: 'fetch', agent: 'research', input: { topic: 'credentials', urls: [url] } }] },
    });
    const task = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    expect(task.status).toBe('SUCCEEDED');
    expect(outputOf(task.plan.steps[0]).fetched).toEqual([
      {
        url,
        ok: false,
        error: expect.stringMatching(/^SsrfBlockedError: Refused to connect to 169\.254\.169\.254/),
      },
    ]);
    const refused = (await events(taskId)).filter((e) => e.type === 'ToolCalled' && e.data.tool === 'http');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      stepId: 'fetch',
      data: {
        outcome: 'error',
        error: { name: 'SsrfBlockedError', message: expect.stringContaining('169.254.169.254') },
      },
    });
    expect(
      await text(
        taskId,
        (await artifacts(taskId)).find((a) => a.name === 'notes.md'),
      ),
    ).toContain(`Could not fetch ${url}: Refused to connect`);
  });
});

describe('verdicts and the sandbox', () => {
  it('fails a task whose review rejects the document, once, with the reasons', async () => {
    const taskId = await submit({
      goal: 'review',
      inputs: { documents: [{ title: 'Wind', text: 'Offshore wind is strong.' }] },
      plan: {
        steps: [
          { id: 'notes', agent: 'research', input: { topic: 'wind' } },
          { id: 'check', agent: 'review', input: { requiredSections: ['Conclusion'] }, dependsOn: ['notes'] },
        ],
      },
    });
    const task = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    expect(task.status).toBe('FAILED');
    const check = task.plan.steps.find((s) => s.id === 'check');
    expect(check).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      error: {
        name: 'Baton.NonRetryable',
        message: 'Review failed (1 reason): notes/notes.md has no "Conclusion" section',
      },
    });
  });

  it('writes and runs code in the shell sandbox when the config enables it, and reviews the result', async () => {
    const files = [
      { path: 'test.sh', content: '[ "$(echo hello | tr a-z A-Z)" = "HELLO" ] && echo "1 passed"\n' },
    ];
    const taskId = await submit({
      goal: 'Write a script and test it',
      inputs: { files, command: 'sh test.sh' },
    });
    const task = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    expect(task.status).toBe('SUCCEEDED');
    expect(task.plan.steps.map((s) => [s.id, s.agent, s.dependsOn])).toEqual([
      ['code', 'coding', []],
      ['review', 'review', ['code']],
    ]);
    expect(task.plan.steps[0]?.output).toMatchObject({ passed: true, exitCode: 0, stdout: '1 passed\n' });
    expect(
      (await events(taskId))
        .filter((e) => e.type === 'ToolCalled')
        .map((e) => [e.stepId, e.data.tool, e.data.outcome]),
    ).toEqual([['code', 'shell', 'ok']]);
  });
});
