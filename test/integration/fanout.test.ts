/**
 * Fan-out steps (`forEach`) end to end through the local runtime: the synthesized Distributed Map
 * on the local Step Functions, the items object and the ResultWriter's files on s3rver, the item
 * runner and the agents in their sandboxes, every call IAM-checked.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/emulators.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const ENDED = ['SUCCEEDED', 'FAILED', 'DEGRADED', 'CANCELLED'];
type Line = {
  index: number;
  status: string;
  output?: { index: number; name: string | null; key?: string };
  run?: number;
};

/** The step's results.jsonl, read through the API. */
async function resultsOf(taskId: string, stepId: string): Promise<Line[]> {
  const list = await h.api<{ artifacts: { id: string; stepId: string; name: string }[] }>(
    'GET',
    `/tasks/${taskId}/artifacts`,
  );
  const art = list.body.artifacts.filter((a) => a.stepId === stepId && a.name === 'results.jsonl').at(-1);
  if (!art) throw new Error(`step ${stepId} has no results.jsonl`);
  // (read as text: the harness's api() parses any JSON-ish type whole)
  const res = await fetch(`${h.rt.url}/tasks/${taskId}/artifacts/${art.id}`, {
    headers: { authorization: 'Bearer test-key' },
  });
  expect(res.headers.get('content-type')).toMatch(/^application\/jsonl/);
  return (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

/** rows (N rows of CSV) -> each (the agent once per row) -> report. */
function plan(count: number, forEach: Record<string, unknown>, input: Record<string, unknown> = {}) {
  return {
    steps: [
      { id: 'rows', agent: 'rows', input: { count } },
      {
        id: 'each',
        agent: 'picky',
        input,
        retry: { maxAttempts: 2, intervalSeconds: 0 },
        forEach: { items: 'steps.rows.artifacts.rows.csv', ...forEach },
      },
      { id: 'report', agent: 'echo', dependsOn: ['each'] },
    ],
  };
}

describe('a fan-out step through the local runtime', () => {
  it('runs 1,000 items of an upstream CSV and writes results.jsonl of 1,000 lines in item order', async () => {
    // Act
    const taskId = await h.submit({ goal: 'each of 1000 rows', plan: plan(1000, { maxConcurrency: 100 }) });
    const task = await h.waitFor(taskId, ENDED, 600_000);
    // Assess
    expect(task.status, JSON.stringify(task.error)).toBe('SUCCEEDED');
    const lines = await resultsOf(taskId, 'each');
    expect(lines).toHaveLength(1000);
    expect(lines.map((l) => l.index)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(lines.every((l) => l.status === 'SUCCEEDED')).toBe(true);
    expect(lines[999]?.output).toEqual({ index: 999, name: 'row-999' });
    const each = task.plan.steps.find((s) => s.id === 'each');
    expect(each?.fanOut).toEqual({
      total: 1000,
      succeeded: 1000,
      failed: 0,
      running: 0,
      pending: 0,
      items: 'steps.rows.artifacts.rows.csv',
    });
    expect(task.plan.steps.find((s) => s.id === 'report')?.status).toBe('SUCCEEDED');
  }, 660_000);

  it('runs an item per object under an s3:// prefix of a source bucket the config names', async () => {
    // Prepare: three objects under docs/ (and one beside it) in the config's source bucket,
    // put as a user would, with the local admin key pair at the runtime's S3 endpoint
    const s3 = new S3Client({
      region: LOCAL_REGION,
      endpoint: h.rt.s3Endpoint,
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
    });
    for (const key of ['docs/a.txt', 'docs/b.txt', 'docs/c.txt', 'other/d.txt'])
      await s3.send(
        new PutObjectCommand({ Bucket: 'baton-local-sources', Key: key, Body: `text of ${key}` }),
      );

    // Act
    const taskId = await h.submit({
      goal: 'summarise every file under docs/',
      plan: { steps: [{ id: 'each', agent: 'picky', forEach: { items: 's3://baton-local-sources/docs/' } }] },
    });
    const task = await h.waitFor(taskId, ENDED, 300_000);

    // Assess: one item per object under the prefix, the agent given its reference
    expect(task.status, JSON.stringify(task.error)).toBe('SUCCEEDED');
    const lines = await resultsOf(taskId, 'each');
    expect(lines.map((l) => [l.status, l.output?.key])).toEqual([
      ['SUCCEEDED', 'docs/a.txt'],
      ['SUCCEEDED', 'docs/b.txt'],
      ['SUCCEEDED', 'docs/c.txt'],
    ]);
  }, 360_000);

  it('refuses an s3:// prefix of a bucket the config does not name, failing the step at once', async () => {
    // Act
    const taskId = await h.submit({
      goal: 'every file of a bucket it may not read',
      plan: { steps: [{ id: 'each', agent: 'picky', forEach: { items: 's3://someone-elses-bucket/x/' } }] },
    });
    const task = await h.waitFor(taskId, ENDED, 300_000);
    // Assess
    expect(task.status).toBe('FAILED');
    const each = task.plan.steps.find((s) => s.id === 'each');
    expect(each?.error?.name).toBe('Baton.ItemsUnavailable');
    expect(each?.error?.message).toContain('may not read bucket someone-elses-bucket');
  }, 360_000);

  it('ends DEGRADED naming the failed items within the tolerance, and a redrive re-runs only those', async () => {
    // Prepare: 3 of 100 items fail in the step's first attempt (run 1), 5% tolerated
    const failIndexes = [7, 42, 99];
    const taskId = await h.submit({
      goal: 'each of 100 rows, a few fail',
      plan: plan(100, { toleratedFailurePercentage: 5 }, { failIndexes, failUntilAttempt: 1 }),
    });
    // Act
    const degraded = await h.waitFor(taskId, ENDED, 300_000);
    // Assess
    expect(degraded.status).toBe('DEGRADED');
    expect(degraded.result?.missing).toEqual(['each[7]', 'each[42]', 'each[99]']);
    expect(degraded.result?.steps.each?.items).toEqual({ total: 100, succeeded: 97, failed: 3 });
    const first = await resultsOf(taskId, 'each');
    expect(first.filter((l) => l.status === 'FAILED').map((l) => l.index)).toEqual(failIndexes);
    const trail = await h.events(taskId);
    const failedEvents = trail.filter((e) => e.type === 'FanOutItemFailed');
    // (in the order the items ended)
    expect(
      failedEvents.map((e) => (e as { item?: number }).item).sort((a, b) => Number(a) - Number(b)),
    ).toEqual(failIndexes);
    expect(failedEvents.find((e) => e.data.index === 7)?.data).toMatchObject({ index: 7, attempts: 2 });
    // the task view was folded without them: GET /tasks/{id} holds counts, not 100 items
    expect(degraded.plan.steps.find((s) => s.id === 'each')?.fanOut).toMatchObject({ total: 100, failed: 3 });

    // Act: redrive
    const redrive = await h.api<{ run: number }>('POST', `/tasks/${taskId}/redrive`);
    expect(redrive.status).toBe(202);
    const redriven = await h.waitFor(taskId, ENDED, 300_000);
    // Assess: the three ran again (run 2, the step's attempt 2), the other 97 kept their run-1 results
    expect(redriven.status).toBe('SUCCEEDED');
    const lines = await resultsOf(taskId, 'each');
    expect(lines).toHaveLength(100);
    expect(lines.every((l) => l.status === 'SUCCEEDED')).toBe(true);
    expect(lines.filter((l) => l.run === 2).map((l) => l.index)).toEqual(failIndexes);
    const started = (await h.events(taskId)).filter((e) => e.type === 'FanOutStarted').map((e) => e.data);
    expect(started).toMatchObject([
      { run: 1, total: 100 },
      { run: 2, total: 100, rerun: 3 },
    ]);
    expect(redriven.plan.steps.find((s) => s.id === 'each')?.fanOut).toMatchObject({
      total: 100,
      succeeded: 100,
      failed: 0,
    });
  }, 660_000);

  it('fails the step over its tolerance, and its dependents are skipped', async () => {
    // Prepare: 3 of 100 items fail every attempt, 1% tolerated
    const taskId = await h.submit({
      goal: 'each of 100 rows, too many fail',
      plan: plan(100, { toleratedFailurePercentage: 1, maxConcurrency: 5 }, { failIndexes: [3, 50, 97] }),
    });
    // Act
    const task = await h.waitFor(taskId, ENDED, 300_000);
    // Assess
    expect(task.status).toBe('FAILED');
    const each = task.plan.steps.find((s) => s.id === 'each');
    expect(each?.status).toBe('FAILED');
    expect(each?.error?.name).toBe('Baton.FanOutFailed');
    expect(task.plan.steps.find((s) => s.id === 'report')?.status).toBe('SKIPPED');
    const lines = await resultsOf(taskId, 'each');
    expect(lines).toHaveLength(100);
    expect(lines.filter((l) => l.status === 'FAILED').length).toBeGreaterThanOrEqual(2);
  }, 360_000);
});
