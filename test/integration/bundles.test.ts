/**
 * Local mode runs what ships: each function's esbuild bundle from the cloud assembly, in
 * sandboxes of its own (worker threads), with only the environment the template gives it.
 */
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { METADATA } from '../../lib/aws/functions.js';
import { LocalFunction } from '../../lib/local/functions.js';
import { type Harness, startHarness } from './harness.js';

const CONFIG = resolve(import.meta.dirname, '../fixtures/bundles.config.json');
const PROBE_SOURCE = resolve(import.meta.dirname, '../fixtures/agents/probe.mjs');

type ProbeOutput = {
  invocations: number;
  stepsSeenBySandbox: string[];
  envNames: string[];
  agentSettings: string | null;
  moduleUrl: string;
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ configPath: CONFIG });
});
afterAll(async () => {
  await h?.close();
});

/** The logical id of the function whose metadata `key` is `value`. */
function functionId(key: string, value: string): string {
  const found = Object.entries(h.rt.template.Resources).find(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[key] === value,
  );
  if (!found) throw new Error(`no function with ${key}=${value}`);
  return found[0];
}

describe('functions run their bundles, isolated from each other', () => {
  let outputs: Record<string, ProbeOutput>;
  beforeAll(async () => {
    // Prepare: probe-a twice in a row (its warm sandbox runs both), then probe-b
    const taskId = await h.submit({
      goal: 'probe the sandboxes',
      plan: {
        steps: [
          { id: 'a1', agent: 'probe-a' },
          { id: 'a2', agent: 'probe-a', dependsOn: ['a1'] },
          { id: 'b1', agent: 'probe-b', dependsOn: ['a2'] },
        ],
      },
    });
    // Act
    const task = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    expect(task.status).toBe('SUCCEEDED');
    outputs = Object.fromEntries(task.plan.steps.map((s) => [s.id, s.output as ProbeOutput]));
  });

  it('loads the bundle from the cloud assembly, not the source', () => {
    // Assess
    const file = fileURLToPath(outputs.b1?.moduleUrl ?? '');
    expect(file.startsWith(`${h.rt.assemblyDir}${sep}asset.`)).toBe(true);
    expect(file).not.toBe(PROBE_SOURCE);
    const probeB = h.rt.functions.get(functionId(METADATA.agent, 'probe-b'));
    expect(probeB?.file).toBe(file);
  });

  it('gives a function only its own environment, not the runtime’s or another function’s', () => {
    // Assess: the runtime's own process has the other functions' variables...
    for (const name of [
      'STATE_MACHINE_ARN',
      'BATON_AGENT_FUNCTION_PREFIX',
      'INTAKE_QUEUE_URL',
      'BATON_API_KEY',
    ])
      expect(process.env[name], name).toBeDefined();
    // ...an agent sees its own and the local endpoints only: not even the table or the bucket
    const env = outputs.b1?.envNames ?? [];
    expect(env).toEqual(expect.arrayContaining(['BATON_AGENT_SETTINGS', 'AWS_ENDPOINT_URL_DYNAMODB']));
    for (const name of [
      'TABLE_NAME',
      'ARTIFACT_BUCKET',
      'STATE_MACHINE_ARN',
      'BATON_AGENT_FUNCTION_PREFIX',
      'DEAD_LETTER_QUEUE_URL',
      'INTAKE_QUEUE_URL',
      'BATON_API_KEY',
      'BATON_AGENT_NAMES',
      'BATON_CONFIG',
    ])
      expect(env, name).not.toContain(name);
    expect(Object.keys(JSON.parse(outputs.b1?.agentSettings ?? '{}'))).toEqual(['probe-b']);
    expect(Object.keys(JSON.parse(outputs.a1?.agentSettings ?? '{}'))).toEqual(['probe-a']);
  });

  it('keeps module state per function: warm in its own sandbox, unseen by another function', () => {
    // Assess: probe-a's second step ran in its warm sandbox; probe-b started cold, with none of it
    expect(outputs.a1?.invocations).toBe(1);
    expect(outputs.a2?.invocations).toBe(2);
    expect(outputs.a2?.stepsSeenBySandbox).toEqual(['a1', 'a2']);
    expect(outputs.b1?.invocations).toBe(1);
    expect(outputs.b1?.stepsSeenBySandbox).toEqual(['b1']);
  });
});

describe('a function started without a variable of its schema', () => {
  it('fails its invocation with Baton.InvalidEnvironment naming the variable', async () => {
    // Prepare: the Gate bundle, with every variable it needs but TABLE_NAME
    const gate = h.rt.functions.get(functionId(METADATA.handler, 'gate'));
    if (!gate) throw new Error('no gate function');
    const fn = new LocalFunction({
      logicalId: 'GateWithoutTable',
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:GateWithoutTable',
      file: gate.file,
      exportName: 'gate',
      timeoutSeconds: 10,
      memoryMb: 512,
      env: () => ({ STATE_MACHINE_ARN: String(process.env.STATE_MACHINE_ARN), AWS_REGION: 'us-east-1' }),
      approvalLine: () => undefined,
    });
    try {
      // Act
      const failure = await fn.invoke({ taskId: 't_1', stepId: 's1', token: 'x' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      // Assess
      expect(failure).toMatchObject({ name: ErrorNames.InvalidEnvironment });
      expect((failure as Error).message).toContain('TABLE_NAME is not set');
    } finally {
      await fn.close();
    }
  });
});
