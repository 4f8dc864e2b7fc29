/**
 * Agent isolation (docs/SECURITY.md), end to end through local mode: a registered agent that
 * uses the AWS SDK with its own function's credentials (what a prompt-injected agent or a shell
 * it runs would do) is refused every call beyond its step, by local IAM checking the synthesized
 * agent role, and the other task it went after stays as it was.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METADATA } from '../../lib/aws/functions.js';
import { type Harness, startHarness, type TrailEvent } from './harness.js';

const CONFIG = resolve(import.meta.dirname, '../fixtures/bundles.config.json');
/** What each service's SDK error is named when IAM refuses the call. */
const DENIED = ['AccessDeniedException', 'AccessDenied'];

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ configPath: CONFIG });
});
afterAll(async () => {
  await h?.close();
});

function functionArn(key: string, value: string): string {
  const found = Object.entries(h.rt.template.Resources).find(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[key] === value,
  );
  const fn = found ? h.rt.functions.get(found[0]) : undefined;
  if (!fn) throw new Error(`no function with ${key}=${value}`);
  return fn.arn;
}

async function artifactOf(taskId: string, name: string): Promise<string> {
  const list = await h.api<{ artifacts: { id: string; name: string }[] }>(
    'GET',
    `/tasks/${taskId}/artifacts`,
  );
  const found = list.body.artifacts.find((a) => a.name === name);
  if (!found) throw new Error(`task ${taskId} has no artifact ${name}`);
  return found.id;
}

describe('a hostile agent with its own function’s credentials', () => {
  let victimId: string;
  let victimBefore: { events: TrailEvent[]; approvals: unknown[]; artifact: Buffer };
  let outcomes: Record<string, string>;
  let envNames: string[];

  beforeAll(async () => {
    // Prepare: a victim task with artifacts and a step waiting for its approval
    victimId = await h.submit({
      goal: 'victim',
      plan: {
        steps: [
          { id: 'a', agent: 'echo' },
          { id: 'g', agent: 'echo', dependsOn: ['a'], approval: 'before' },
        ],
      },
    });
    await h.waitFor(victimId, ['AWAITING_APPROVAL']);
    const artifactId = await artifactOf(victimId, 'a.txt');
    const pending = await h.api<{ approvals: { taskId: string }[] }>('GET', '/approvals?status=PENDING');
    victimBefore = {
      events: await h.events(victimId),
      approvals: pending.body.approvals.filter((a) => a.taskId === victimId),
      artifact: (await h.api('GET', `/tasks/${victimId}/artifacts/${artifactId}`)).raw,
    };
    const executionArn = victimBefore.events.find((e) => e.type === 'ExecutionStarted')?.data.executionArn;

    // Act: the hostile agent, told every name it could want
    const attackerId = await h.submit({
      goal: 'attack',
      plan: {
        steps: [
          {
            id: 'h',
            agent: 'hostile',
            input: {
              victimTaskId: victimId,
              victimKey: `tasks/${victimId}/steps/a/1/a.txt`,
              victimExecutionArn: executionArn,
              table: process.env.TABLE_NAME,
              bucket: process.env.ARTIFACT_BUCKET,
              queueUrl: process.env.INTAKE_QUEUE_URL,
              stateMachineArn: process.env.STATE_MACHINE_ARN,
              runnerFunction: functionArn(METADATA.entry, 'lambdas/agents/runner-lambda.ts'),
              otherAgentFunction: functionArn(METADATA.agent, 'echo'),
            },
          },
        ],
      },
    });
    const attacker = await h.waitFor(attackerId, ['SUCCEEDED', 'FAILED']);
    const output = attacker.plan?.steps[0]?.output as {
      outcomes: Record<string, string>;
      envNames: string[];
    };
    outcomes = output.outcomes;
    envNames = output.envNames;
  });

  it('is refused every call beyond its step, each with the service’s AccessDenied error', () => {
    // Assess
    expect(Object.keys(outcomes)).toHaveLength(19);
    const notDenied = Object.entries(outcomes).filter(([, outcome]) => !DENIED.includes(outcome));
    expect(notDenied).toEqual([]);
  });

  it('has no table, bucket, queue or state machine in its environment', () => {
    // Assess
    for (const name of ['TABLE_NAME', 'ARTIFACT_BUCKET', 'INTAKE_QUEUE_URL', 'STATE_MACHINE_ARN'])
      expect(envNames).not.toContain(name);
  });

  it('leaves the victim as it was: its trail, its pending approval and its artifact bytes', async () => {
    // Act
    const victim = await h.task(victimId);
    const pending = await h.api<{ approvals: { taskId: string }[] }>('GET', '/approvals?status=PENDING');
    const artifactId = await artifactOf(victimId, 'a.txt');
    const artifact = await h.api('GET', `/tasks/${victimId}/artifacts/${artifactId}`);

    // Assess
    expect(victim.status).toBe('AWAITING_APPROVAL');
    expect(await h.events(victimId)).toEqual(victimBefore.events);
    expect(pending.body.approvals.filter((a) => a.taskId === victimId)).toEqual(victimBefore.approvals);
    expect(artifact.raw.equals(victimBefore.artifact)).toBe(true);
  });
});
