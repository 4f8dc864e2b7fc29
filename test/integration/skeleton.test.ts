/**
 * End to end through the local runtime: HTTP API -> SQS intake -> the synthesized state machine
 * -> the Lambdas' bundles (a sandbox pool each) -> DynamoDB/S3 emulators.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, type TrailEvent } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

type Step = {
  id: string;
  status: string;
  attempts: number;
  summary?: string;
  output?: Record<string, unknown>;
};
type Event = TrailEvent;

const events = (taskId: string) => h.events(taskId);

describe('a diamond plan of registered agents', () => {
  const plan = {
    steps: [
      { id: 'a', agent: 'echo', input: { n: 1 } },
      { id: 'b', agent: 'echo', dependsOn: ['a'] },
      { id: 'c', agent: 'echo', dependsOn: ['a'] },
      { id: 'd', agent: 'echo', dependsOn: ['b', 'c'] },
    ],
  };
  let taskId: string;

  beforeAll(async () => {
    const res = await h.api('POST', '/tasks', { goal: 'diamond', plan });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'QUEUED', links: { self: `/tasks/${res.body.taskId}` } });
    taskId = String(res.body.taskId);
    await h.waitFor(taskId, ['SUCCEEDED', 'FAILED', 'DEGRADED']);
  });

  it('runs to SUCCEEDED with every step succeeded once', async () => {
    const task = (await h.api('GET', `/tasks/${taskId}`)).body as {
      status: string;
      plan: { steps: Step[] };
      result: unknown;
      traceId: string;
    };
    expect(task.status).toBe('SUCCEEDED');
    expect(task.plan.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['a', 'SUCCEEDED', 1],
      ['b', 'SUCCEEDED', 1],
      ['c', 'SUCCEEDED', 1],
      ['d', 'SUCCEEDED', 1],
    ]);
    expect(task.traceId).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(task.result).toMatchObject({
      steps: { d: { status: 'SUCCEEDED', summary: 'echo d (attempt 1)' } },
    });
  });

  it('answers the cheap status read with the summary the listing has, and 404 for an unknown task', async () => {
    // Act
    const status = await h.api('GET', `/tasks/${taskId}/status`);
    const listed = await h.api<{ tasks: { taskId: string }[] }>('GET', '/tasks?status=SUCCEEDED&limit=100');
    const unknown = await h.api('GET', '/tasks/t_nope/status');
    // Assess
    expect(status.status).toBe(200);
    expect(status.body).toEqual(listed.body.tasks.find((t) => t.taskId === taskId));
    expect(status.body).toMatchObject({ taskId, status: 'SUCCEEDED', goal: 'diamond' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
  });

  it('gives d the results of b and c as its upstream', async () => {
    const task = (await h.api('GET', `/tasks/${taskId}`)).body as { plan: { steps: Step[] } };
    const d = task.plan.steps.find((s) => s.id === 'd');
    expect(d?.output?.upstream).toEqual([
      { stepId: 'b', summary: 'echo b (attempt 1)', artifacts: 2 },
      { stepId: 'c', summary: 'echo c (attempt 1)', artifacts: 2 },
    ]);
  });

  it('records an ordered, immutable audit trail for every step', async () => {
    const all = await events(taskId);
    const seqs = all.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    const types = all.map((e) => e.type);
    expect(types[0]).toBe('TaskSubmitted');
    expect(types.at(-1)).toBe('TaskSucceeded');
    expect(types).toContain('ExecutionStarted');
    expect(types).toContain('PlanCreated');
    for (const id of ['a', 'b', 'c', 'd']) {
      const mine = all.filter((e) => e.stepId === id).map((e) => e.type);
      expect(mine.filter((t) => t === 'StepStarted')).toHaveLength(1);
      expect(mine.filter((t) => t === 'StepSucceeded')).toHaveLength(1);
      const succeeded = all.find((e) => e.stepId === id && e.type === 'StepSucceeded');
      expect(succeeded?.data).toMatchObject({ summary: `echo ${id} (attempt 1)`, output: { stepId: id } });
    }
    // d started only after both b and c succeeded
    const at = (type: string, step: string) =>
      all.find((e) => e.type === type && e.stepId === step)?.seq ?? -1;
    expect(at('StepStarted', 'd')).toBeGreaterThan(at('StepSucceeded', 'b'));
    expect(at('StepStarted', 'd')).toBeGreaterThan(at('StepSucceeded', 'c'));
    // paging: after= and limit= walk the same trail
    const first = await h.api<{ events: Event[]; next?: number }>('GET', `/tasks/${taskId}/events?limit=3`);
    expect(first.body.events.map((e) => e.id)).toEqual(all.slice(0, 3).map((e) => e.id));
    const second = await h.api<{ events: Event[] }>(
      'GET',
      `/tasks/${taskId}/events?limit=3&after=${first.body.next}`,
    );
    expect(second.body.events.map((e) => e.id)).toEqual(all.slice(3, 6).map((e) => e.id));
  });

  it('serves every artifact with bytes matching the recorded sha256', async () => {
    const list = await h.api<{
      artifacts: {
        id: string;
        stepId: string;
        name: string;
        size: number;
        sha256: string;
        contentType: string;
      }[];
    }>('GET', `/tasks/${taskId}/artifacts`);
    expect(list.body.artifacts).toHaveLength(8);
    for (const art of list.body.artifacts) {
      const res = await h.api('GET', `/tasks/${taskId}/artifacts/${art.id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(art.contentType);
      expect(res.raw.byteLength).toBe(art.size);
      expect(createHash('sha256').update(res.raw).digest('hex')).toBe(art.sha256);
    }
    const bin = list.body.artifacts.find((a) => a.name === 'a.bin');
    const bytes = (await h.api('GET', `/tasks/${taskId}/artifacts/${bin?.id}`)).raw;
    expect([...bytes]).toEqual([0, 1, 2, 255]);
  });
});

describe('a parallel fan-out', () => {
  it('runs independent steps at the same time', async () => {
    // Prepare: a root, five sleepers that only depend on it, and a join. Each sleeper runs in a
    // sandbox of its own that starts cold (its bundle loads in ~0.5-1 s here, as in Lambda), so
    // they sleep long enough (5 s: 3 s was not enough on a loaded machine) for the overlap not to
    // depend on how quickly five cold starts finish.
    const fan = ['p1', 'p2', 'p3', 'p4', 'p5'];
    const plan = {
      steps: [
        { id: 'root', agent: 'echo' },
        ...fan.map((id) => ({ id, agent: 'sleep', input: { ms: 5000 }, dependsOn: ['root'] })),
        { id: 'join', agent: 'echo', dependsOn: fan },
      ],
    };
    // Act
    const res = await h.api('POST', '/tasks', { goal: 'fan-out', plan });
    const task = (await h.waitFor(String(res.body.taskId), ['SUCCEEDED', 'FAILED'])) as {
      status: string;
      plan: { steps: Step[] };
    };
    // Assess: every sleeper started before any of them ended (they overlapped)
    expect(task.status).toBe('SUCCEEDED');
    const outs = task.plan.steps
      .filter((s) => fan.includes(s.id))
      .map((s) => s.output as { startedAt: string; endedAt: string });
    const lastStart = outs
      .map((o) => o.startedAt)
      .sort()
      .at(-1) as string;
    const firstEnd = outs.map((o) => o.endedAt).sort()[0] as string;
    expect(lastStart < firstEnd).toBe(true);
  });
});

describe('planning from a goal', () => {
  it('plans parallel research and a writing step with the built-in agents, and runs them', async () => {
    const res = await h.api('POST', '/tasks', {
      goal: 'Compare solar power and wind power',
      inputs: {
        documents: [
          { title: 'Solar', text: 'Solar power converts sunlight. Solar panels are cheap now.' },
          { title: 'Wind', text: 'Wind power uses turbines. Offshore wind is strong.' },
        ],
      },
    });
    const task = (await h.waitFor(String(res.body.taskId), ['SUCCEEDED', 'FAILED'])) as {
      status: string;
      plan: {
        source: string;
        rationale: string;
        steps: { id: string; agent: string; dependsOn: string[] }[];
      };
    };
    expect(task.status).toBe('SUCCEEDED');
    expect(task.plan.source).toBe('planner:offline');
    expect(task.plan.rationale).toMatch(/Deterministic/);
    expect(task.plan.steps.map((s) => [s.id, s.agent, s.dependsOn])).toEqual([
      ['research-1', 'research', []],
      ['research-2', 'research', []],
      ['write', 'writing', ['research-1', 'research-2']],
    ]);
    const arts = await h.api<{ artifacts: { id: string; name: string }[] }>(
      'GET',
      `/tasks/${res.body.taskId}/artifacts`,
    );
    const doc = arts.body.artifacts.find((a) => a.name === 'document.md');
    const text = (await h.api('GET', `/tasks/${res.body.taskId}/artifacts/${doc?.id}`)).raw.toString('utf8');
    expect(text).toContain('Solar panels are cheap now. [1]');
    expect(text).toContain('Offshore wind is strong. [2]');
  });
});

describe('bad input', () => {
  async function taskCount(): Promise<number> {
    return ((await h.api<{ tasks: unknown[] }>('GET', '/tasks?limit=100')).body.tasks ?? []).length;
  }

  it('rejects a plan with a cycle as a 400 problem that names the cycle, and creates nothing', async () => {
    const before = await taskCount();
    const res = await h.api('POST', '/tasks', {
      goal: 'cycle',
      plan: {
        steps: [
          { id: 'x', agent: 'echo', dependsOn: ['y'] },
          { id: 'y', agent: 'echo', dependsOn: ['x'] },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, title: 'Invalid request' });
    expect(String(res.body.detail)).toContain('cycle: x depends on y depends on x');
    expect(await taskCount()).toBe(before);
  });

  it('rejects an unknown agent, listing the known ones', async () => {
    const res = await h.api('POST', '/tasks', { goal: 'g', plan: { steps: [{ id: 'x', agent: 'nobody' }] } });
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([
      {
        path: 'plan.steps[0].agent',
        message: expect.stringContaining(
          'unknown agent "nobody"; known agents: bulky, coding, data, echo, fail',
        ),
      },
    ]);
  });

  it('explains schema errors, bad JSON, and missing auth', async () => {
    const missing = await h.api('POST', '/tasks', { plan: { steps: [] } });
    expect(missing.status).toBe(400);
    expect(missing.body.issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'body.goal' }),
        expect.objectContaining({ path: 'body.plan.steps' }),
      ]),
    );
    const badJson = await h.api('POST', '/tasks', '{"goal":');
    expect(badJson.status).toBe(400);
    expect(String(badJson.body.detail)).toMatch(/not valid JSON/);
    const noAuth = await h.api('GET', '/tasks', undefined, { authorization: '' });
    expect(noAuth.status).toBe(401);
    expect((await h.api('GET', '/healthz', undefined, { authorization: '' })).status).toBe(200);
    const unknown = await h.api('GET', '/tasks/t_nope');
    expect(unknown.status).toBe(404);
  });

  it('returns the same task for a repeated Idempotency-Key, and 409 for a different body', async () => {
    const body = { goal: 'idempotent', plan: { steps: [{ id: 'only', agent: 'echo' }] } };
    const first = await h.api('POST', '/tasks', body, { 'idempotency-key': 'key-1' });
    const again = await h.api('POST', '/tasks', body, { 'idempotency-key': 'key-1' });
    expect(again.status).toBe(202);
    expect(again.body.taskId).toBe(first.body.taskId);
    const other = await h.api('POST', '/tasks', { ...body, goal: 'another' }, { 'idempotency-key': 'key-1' });
    expect(other.status).toBe(409);
    expect(other.body.taskId).toBe(first.body.taskId);
    await h.waitFor(String(first.body.taskId), ['SUCCEEDED']);
    const trail = await events(String(first.body.taskId));
    expect(trail.filter((e) => e.type === 'TaskSubmitted')).toHaveLength(1);
    expect(trail.filter((e) => e.type === 'StepStarted')).toHaveLength(1);
  });

  it('lists tasks by status, newest first', async () => {
    const res = await h.api<{ tasks: { taskId: string; status: string; createdAt: string }[] }>(
      'GET',
      '/tasks?status=SUCCEEDED&limit=100',
    );
    expect(res.body.tasks.length).toBeGreaterThan(0);
    expect(res.body.tasks.every((t) => t.status === 'SUCCEEDED')).toBe(true);
    const created = res.body.tasks.map((t) => t.createdAt);
    expect(created).toEqual([...created].sort().reverse());
    expect((await h.api('GET', '/tasks?status=NOPE')).status).toBe(400);
  });
});

describe('an artifact larger than a Lambda response (9 MiB)', () => {
  const bytes = 9 * 1024 * 1024;
  /** The bytes the `bulky` fixture agent makes: byte i = (i * 31 + 7) mod 256. */
  const expected = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) expected[i] = (i * 31 + 7) & 0xff;
  const sha256 = createHash('sha256').update(expected).digest('hex');

  it('is stored whole and downloaded through a presigned S3 redirect, without the API credentials', async () => {
    // Prepare: a one-step task whose agent returns a 9 MiB binary artifact.
    const taskId = await h.submit({
      goal: 'big artifact',
      plan: { steps: [{ id: 'make', agent: 'bulky', input: { bytes } }] },
    });
    expect((await h.waitFor(taskId, ['SUCCEEDED', 'FAILED'])).status).toBe('SUCCEEDED');
    const list = await h.api<{ artifacts: { id: string; size: number; sha256: string }[] }>(
      'GET',
      `/tasks/${taskId}/artifacts`,
    );
    const [art] = list.body.artifacts;
    expect(art).toMatchObject({ size: bytes, sha256 });

    // Act: the API answers 302; the client follows the Location with no Authorization header.
    const res = await fetch(`${h.rt.url}/tasks/${taskId}/artifacts/${art?.id}`, {
      headers: { authorization: 'Bearer test-key' },
      redirect: 'manual',
    });
    const location = res.headers.get('location') ?? '';
    const download = await fetch(location);
    const body = Buffer.from(await download.arrayBuffer());

    // Assess: a presigned, short-lived URL of that object; the bytes are the agent's, sha256 and all.
    expect(res.status).toBe(302);
    expect(res.headers.get('x-content-sha256')).toBe(sha256);
    expect(res.headers.get('x-content-length')).toBe(String(bytes));
    const url = new URL(location);
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    // Over the inline limit, the agent wrote it to its first upload slot; the runner adopted it there.
    expect(url.pathname).toContain(`tasks/${taskId}/steps/make/1/uploads/0`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    expect(download.headers.get('content-disposition')).toContain('filename="blob.bin"');
    expect(body.byteLength).toBe(bytes);
    expect(createHash('sha256').update(body).digest('hex')).toBe(sha256);
  });

  it('refuses a presigned URL with a forged signature', async () => {
    // Prepare: the Location of a large artifact's download, its signature altered.
    const taskId = await h.submit({
      goal: 'big artifact',
      plan: { steps: [{ id: 'make', agent: 'bulky', input: { bytes: 5 * 1024 * 1024 } }] },
    });
    await h.waitFor(taskId, ['SUCCEEDED']);
    const [art] = (await h.api<{ artifacts: { id: string }[] }>('GET', `/tasks/${taskId}/artifacts`)).body
      .artifacts;
    const res = await fetch(`${h.rt.url}/tasks/${taskId}/artifacts/${art?.id}`, {
      headers: { authorization: 'Bearer test-key' },
      redirect: 'manual',
    });
    const forged = new URL(res.headers.get('location') ?? '');
    const signature = forged.searchParams.get('X-Amz-Signature') ?? '';
    forged.searchParams.set('X-Amz-Signature', `${signature.slice(0, -4)}0000`);

    // Act
    const download = await fetch(forged);

    // Assess: S3 (s3rver locally) checks the signature.
    expect(download.status).toBe(403);
  });
});
