import { describe, expect, it } from 'vitest';
import { type CodingOutput, coding } from '../../../lambdas/agents/coding.js';
import { aggregateSql, type DataOutput, data } from '../../../lambdas/agents/data.js';
import { resolveAgentSettings } from '../../../lambdas/agents/registry.js';
import { ErrorNames } from '../../../lambdas/core/errors.js';
import { agentInput, artifactText, runAgent, Upstream } from './helpers.js';

const SALES = [
  ['region', 'product', 'units', 'price'],
  ['north', 'pump', '3', '1200.5'],
  ['south', 'pump', '1', '1100'],
  ['north', 'panel', '10', '250'],
  ['east', 'panel', '4', '240.25'],
  ['south', 'panel', '6', '260'],
  ['north', 'pump', '2', '1210'],
];
const csv = `${SALES.map((r) => r.join(',')).join('\n')}\n`;
const inputs = { datasets: [{ name: 'sales.csv', contentType: 'text/csv', body: csv }] };

/** The hand computation the agent must match: sum of units per region. */
function unitsByRegion(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [region, , units] of SALES.slice(1))
    out[region as string] = (out[region as string] ?? 0) + Number(units);
  return out;
}

describe('data agent (offline)', () => {
  it('aggregates by group through the db tool and writes the table as CSV', async () => {
    // Act
    const { out, events } = await runAgent(
      data,
      agentInput({
        agent: 'data',
        input: { groupBy: 'Region', aggregate: [{ fn: 'sum', column: 'units' }, { fn: 'count' }] },
        inputs,
      }),
    );
    // Assess
    const expected = unitsByRegion();
    const output = out.output as DataOutput;
    expect(output.mode).toBe('aggregate');
    expect(output.sql).toBe(
      'SELECT "region", SUM("units") AS "sum_units", COUNT(*) AS "count" FROM "sales" GROUP BY "region" ORDER BY "region"',
    );
    expect(output.columns).toEqual(['region', 'sum_units', 'count']);
    expect(Object.fromEntries(output.rows.map((r) => [r[0], r[1]]))).toEqual(expected);
    expect(artifactText(out, 'result.csv')).toBe(
      `region,sum_units,count\neast,4,1\nnorth,${expected.north},3\nsouth,${expected.south},2\n`,
    );
    expect(events.map((e) => [e.data.tool, e.data.outcome])).toEqual([
      ['db', 'ok'],
      ['db', 'ok'],
    ]);
  });

  it('runs given SQL over an upstream CSV artifact', async () => {
    const up = new Upstream().add('data-1', 'data', [
      { name: 'result.csv', contentType: 'text/csv', body: 'region,total\nnorth,15\nsouth,7\n' },
    ]);
    const { out } = await runAgent(
      data,
      agentInput({ agent: 'data', input: { sql: 'SELECT SUM(total) AS grand FROM data_1_result' } }),
      { upstream: up },
    );
    expect(out.output).toMatchObject({ mode: 'sql', columns: ['grand'], rows: [[22]], rowCount: 1 });
  });

  it('profiles every column when given neither SQL nor a spec', async () => {
    const { out } = await runAgent(data, agentInput({ agent: 'data', inputs }));
    const rows = (out.output as DataOutput).rows;
    const units = rows.find((r) => r[1] === 'units');
    expect(units).toEqual(['sales.csv', 'units', 6, 6, 6, 1, 10, 26 / 6, 26]);
    expect(rows.find((r) => r[1] === 'region')?.slice(2, 5)).toEqual([6, 6, 0]);
  });

  it('names the columns it has when a spec names one it has not', async () => {
    const err = await runAgent(
      data,
      agentInput({
        agent: 'data',
        input: { groupBy: 'regoin', aggregate: { fn: 'sum', column: 'units' } },
        inputs,
      }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: ErrorNames.NonRetryable,
      message:
        'data input is not valid: input.groupBy: no column "regoin" in sales.csv (columns: region, product, units, price)',
    });
  });

  it('refuses a write statement, a missing dataset and a bad spec clearly', async () => {
    const write = await runAgent(
      data,
      agentInput({ agent: 'data', input: { sql: 'DELETE FROM sales' }, inputs }),
    ).catch((e: unknown) => e);
    expect(write).toMatchObject({
      name: ErrorNames.NonRetryable,
      message: expect.stringContaining('ReadOnlyViolationError'),
    });
    const none = await runAgent(data, agentInput({ agent: 'data', input: {} })).catch((e: unknown) => e);
    expect(none).toMatchObject({
      name: ErrorNames.NonRetryable,
      message: expect.stringMatching(/^data needs a dataset/),
    });
    const spec = await runAgent(
      data,
      agentInput({ agent: 'data', input: { aggregate: { fn: 'sum' } }, inputs }),
    ).catch((e: unknown) => e);
    expect((spec as Error).message).toBe(
      'data input is not valid: input.aggregate.column: give the column to aggregate (only "count" may leave it out)',
    );
    const bad = await runAgent(
      data,
      agentInput({
        agent: 'data',
        inputs: { datasets: [{ name: 'x', contentType: 'text/plain', body: '' }] },
      }),
    ).catch((e: unknown) => e);
    expect((bad as Error).message).toMatch(
      /^data: inputs\.datasets is not valid: inputs\.datasets\[0\]\.contentType: /,
    );
  });

  it('builds quoted SQL from a spec', () => {
    expect(aggregateSql('t', [], [{ fn: 'avg', column: 'a"b', as: 'mean' }])).toBe(
      'SELECT AVG("a""b") AS "mean" FROM "t"',
    );
  });
});

describe('coding agent (offline)', () => {
  const shell = resolveAgentSettings('coding', { tools: { shell: { enabled: true, timeoutMs: 20_000 } } });
  const files = [
    {
      path: 'reverse.sh',
      content: `printf "%s" "$1" | awk '{ s = ""; for (i = length($0); i > 0; i--) s = s substr($0, i, 1); print s }'\n`,
    },
    {
      path: 'test.sh',
      content:
        'out=$(sh reverse.sh abc)\n[ "$out" = "cba" ] && echo "1 test passed" || { echo "expected cba, got $out" >&2; exit 1; }\n',
    },
  ];

  it('fails at once, non-retryably and saying how to enable it, when the shell is not enabled', async () => {
    const err = await runAgent(
      coding,
      agentInput({ agent: 'coding', input: { files, command: 'sh test.sh' } }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: ErrorNames.NonRetryable });
    expect((err as Error).message).toBe(
      'coding: the shell sandbox is not enabled for this agent: set "tools": { "shell": { "enabled": true } } for it in the Baton config (BATON_CONFIG)',
    );
    expect((err as { events: { data: Record<string, unknown> }[] }).events[0]?.data).toMatchObject({
      tool: 'shell',
      outcome: 'error',
      error: { name: 'ToolDisabledError' },
    });
  });

  it('writes the files, runs the tests in the sandbox and reports the result', async () => {
    const { out } = await runAgent(
      coding,
      agentInput({ agent: 'coding', input: { files, command: 'sh test.sh' } }),
      { settings: shell },
    );
    const output = out.output as CodingOutput;
    expect(output).toMatchObject({
      mode: 'offline',
      exitCode: 0,
      passed: true,
      stdout: '1 test passed\n',
      runs: 1,
    });
    expect(output.files.map((f) => f.path)).toEqual(['reverse.sh', 'test.sh']);
    expect(artifactText(out, 'report.md')).toContain('## Result\n\nPASSED: exit code 0, expected 0.');
  });

  it('fails the step with the error output when the tests fail (or reports it with failOnError false)', async () => {
    const broken = [
      { ...files[0], content: 'printf "%s" "$1"\n' } as (typeof files)[0],
      files[1] as (typeof files)[0],
    ];
    const err = await runAgent(
      coding,
      agentInput({ agent: 'coding', input: { files: broken, command: 'sh test.sh' } }),
      { settings: shell },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: ErrorNames.NonRetryable,
      message: 'coding: `sh test.sh` exited with 1 (expected 0): expected cba, got abc',
    });
    const { out } = await runAgent(
      coding,
      agentInput({ agent: 'coding', input: { files: broken, command: 'sh test.sh', failOnError: false } }),
      { settings: shell },
    );
    expect(out.output).toMatchObject({ passed: false, exitCode: 1, stderr: 'expected cba, got abc\n' });
  });

  it('takes files and command from the task inputs, and needs a command offline', async () => {
    const { out } = await runAgent(
      coding,
      agentInput({
        agent: 'coding',
        input: { task: 'reverse' },
        inputs: { files, command: ['sh', 'test.sh'] },
      }),
      { settings: shell },
    );
    expect(out.output).toMatchObject({ passed: true, command: ['sh', 'test.sh'] });
    const err = await runAgent(coding, agentInput({ agent: 'coding', input: { task: 'write a parser' } }), {
      settings: shell,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^coding input is not valid: input\.command is required when no model is configured/,
    );
  });
});
