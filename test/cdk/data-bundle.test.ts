/**
 * The data agent runs from its Lambda bundle alone: the bundle the stack's own bundling
 * (AgentFunction: esbuild + the afterBundling copy of sql.js's wasm) writes to cdk.out is loaded
 * in a fresh Node process, outside the project (no node_modules to fall back on), with no AWS
 * environment at all (an agent reaches nothing: the step runner sends it everything) but the
 * settings the stack gives it, and answers the runner's request for a SQL query over a CSV
 * dataset through the db tool. A research agent's bundle carries its configured corpus folder
 * where its settings point, and no sql.js wasm (it has no db tool).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentRequest, AgentResponse } from '../../lambdas/agents/protocol.js';
import { agentCatalog, type BatonConfig } from '../../lambdas/agents/registry.js';
import { deployedSettings } from '../../lib/aws/agent-settings.js';
import { AgentFunction, SQL_WASM } from '../../lib/aws/functions.js';

let work: string;
let bundleDir: string;
let dataSettings: string;

/**
 * Synthesizes one agent function with bundling on, as the stack builds it (its deployed settings'
 * files included); returns its asset directory in cdk.out.
 */
function buildAgentBundle(
  outdir: string,
  agent: string,
  config: BatonConfig = { agents: {} },
  baseDir = outdir,
): { dir: string; settings: string } {
  const app = new App({
    outdir,
    context: { 'aws:cdk:bundling-stacks': ['**'], 'aws:cdk:enable-asset-metadata': true },
  });
  const stack = new Stack(app, 'Bundle', { env: { account: '111111111111', region: 'eu-west-1' } });
  const entry = agentCatalog({ config, baseDir }).get(agent);
  if (!entry) throw new Error(`no agent ${agent}`);
  const deployed = deployedSettings(entry.settings);
  // BATON_AGENT_SETTINGS as the stack sets it (lib/aws/stack.ts).
  const settings = JSON.stringify({ [agent]: deployed.settings });
  new AgentFunction(
    stack,
    `Agent-${agent}`,
    entry,
    `Bundle-${agent}`,
    { BATON_AGENT_SETTINGS: settings },
    deployed.files,
  );
  const template = app.synth().getStackByName('Bundle').template as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
  };
  const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
  const assetPath = fn?.Metadata?.['aws:asset:path'];
  if (!assetPath) throw new Error('the function has no asset path');
  return { dir: join(outdir, assetPath), settings };
}

/** Runs the bundle's handler once in a fresh Node 22 process with exactly `env`. */
function invokeBundle(
  dir: string,
  event: unknown,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)});
    const context = { functionName: 'data', functionVersion: '$LATEST', awsRequestId: 'r-1',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:data', memoryLimitInMB: '1024',
      getRemainingTimeInMillis: () => 60000 };
    const out = await handler(${JSON.stringify(event)}, context);
    process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n');`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: work, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'baton-data-bundle-'));
  ({ dir: bundleDir, settings: dataSettings } = buildAgentBundle(join(work, 'cdk.out'), 'data'));
}, 240_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the data agent bundle', () => {
  it('carries sql.js and its wasm beside index.mjs', () => {
    expect(existsSync(join(bundleDir, 'index.mjs'))).toBe(true);
    expect(existsSync(join(bundleDir, SQL_WASM.to))).toBe(true);
  });

  it('answers a SQL query through the db tool from the bundle alone, with no AWS at all', async () => {
    // Prepare: the step runner's request for one data step over a CSV dataset
    const request: AgentRequest = {
      protocol: 1,
      input: {
        taskId: 'bundle-1',
        stepId: 'totals',
        attempt: 1,
        agent: 'data',
        goal: 'total sales by region',
        input: { sql: 'SELECT region, SUM(amount) AS total FROM sales GROUP BY region ORDER BY region' },
        inputs: {
          datasets: [
            {
              name: 'sales.csv',
              contentType: 'text/csv',
              body: 'region,amount\nnorth,3\nsouth,4\nnorth,5\n',
            },
          ],
        },
        upstream: [],
      },
      run: 1,
      traceId: 'trace-bundle-1',
      timeoutSeconds: 60,
      taskTokensUsed: 0,
      readable: [],
      uploads: [],
    };

    // Act: a fresh process, outside the project, with a Lambda's PATH and the agent's settings only
    const run = await invokeBundle(bundleDir, request, {
      PATH: process.env.PATH ?? '',
      BATON_AGENT_SETTINGS: dataSettings,
    });

    // Assess: the answer holds the query's rows and the audit record of the db call
    const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line, run.stderr.slice(-3000)).toBeDefined();
    expect(run.code).toBe(0);
    const answer = AgentResponse.parse(JSON.parse(line?.slice('RESULT '.length) ?? ''));
    if (!answer.ok) throw new Error(`the data agent failed: ${answer.error.name}: ${answer.error.message}`);
    expect(answer.output).toMatchObject({
      mode: 'sql',
      columns: ['region', 'total'],
      rows: [
        ['north', 8],
        ['south', 4],
      ],
    });
    expect(answer.audit).toContainEqual(
      expect.objectContaining({
        type: 'ToolCalled',
        data: expect.objectContaining({ tool: 'db', outcome: 'ok' }),
      }),
    );
  }, 120_000);
});

describe('a research agent bundle', () => {
  it('carries its configured corpus folder where its deployed settings point, and no sql.js wasm', () => {
    // Prepare: a config folder with a corpus beside it.
    const baseDir = join(work, 'config');
    mkdirSync(join(baseDir, 'docs'), { recursive: true });
    writeFileSync(join(baseDir, 'docs', 'heat-pumps.md'), '# Heat pumps\nThey move heat.\n');
    const config: BatonConfig = { agents: { research: { tools: { search: { corpusDir: './docs' } } } } };
    // Act
    const { dir } = buildAgentBundle(join(work, 'cdk.out-research'), 'research', config, baseDir);
    // Assess
    const entry = agentCatalog({ config, baseDir }).get('research');
    const corpusDir = entry ? deployedSettings(entry.settings).settings.tools.search?.corpusDir : undefined;
    expect(corpusDir).toBe('./files/0-corpus');
    expect(readFileSync(join(dir, corpusDir ?? '', 'heat-pumps.md'), 'utf8')).toContain('They move heat.');
    expect(existsSync(join(dir, SQL_WASM.to))).toBe(false);
  }, 120_000);
});
