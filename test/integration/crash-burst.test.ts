/**
 * kill -9 in the middle of a burst of submissions (issue 10): the local runtime is killed while
 * 60 POST /tasks are in flight and started again on the same data directory.
 *
 * - acknowledged (202) ⇒ the task exists and ends SUCCEEDED, exactly once;
 * - a request cut by the kill either left no trace or a task that also ends (the intake sweeper
 *   sends the start of a task left QUEUED; the fixture config sweeps after 1 s and a rule's first
 *   tick comes at start): no orphan, and the client's retry with the same Idempotency-Key
 *   gets that very task, never a second one;
 * - every task is listed under exactly one status, its own;
 * - every trail is sound (trail.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrailEvent } from './harness.js';
import { type RuntimeProcesses, runtimeProcesses, until } from './process.js';
import { trailProblems } from './trail.js';

const KEY = 'burst-key';
const REQUESTS = 60;
const STATUSES = ['QUEUED', 'RUNNING', 'AWAITING_APPROVAL', 'SUCCEEDED', 'DEGRADED', 'FAILED', 'CANCELLED'];

let procs: RuntimeProcesses;
beforeAll(async () => {
  procs = await runtimeProcesses(KEY);
});
afterAll(() => procs?.cleanup());

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${procs.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: loosely typed JSON responses
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function listed(status?: string): Promise<{ taskId: string; status: string; goal: string }[]> {
  const out: { taskId: string; status: string; goal: string }[] = [];
  let cursor: string | undefined;
  do {
    const q = new URLSearchParams({
      limit: '100',
      ...(status ? { status } : {}),
      ...(cursor ? { cursor } : {}),
    });
    const page = await call('GET', `/tasks?${q}`);
    out.push(...page.body.tasks);
    cursor = page.body.next;
  } while (cursor);
  return out;
}

async function trail(taskId: string): Promise<TrailEvent[]> {
  return (await call('GET', `/tasks/${taskId}/events?limit=1000`)).body.events as TrailEvent[];
}

const body = (i: number) => ({
  goal: `burst ${i}`,
  plan: { steps: [{ id: 'a', agent: 'echo', input: { i } }] },
});
const ENDED = ['SUCCEEDED', 'DEGRADED', 'FAILED', 'CANCELLED'];

describe('kill -9 in the middle of a burst of submissions', () => {
  it('ends every acknowledged task once, leaves no orphan, and a retried request finds its task', async () => {
    // Prepare: a runtime and 60 submissions at once, each with its own Idempotency-Key
    const first = await procs.start();
    const acknowledged = new Map<number, string>();
    let answered = 0;
    const requests = Array.from({ length: REQUESTS }, (_, i) =>
      call('POST', '/tasks', body(i), { 'idempotency-key': `burst-${i}` })
        .then((r) => {
          answered += 1;
          if (r.status === 202) acknowledged.set(i, r.body.taskId as string);
        })
        .catch(() => undefined),
    );

    console.info('[crash-burst] runtime up, burst sent');
    // Act: kill -9 once some of them were answered, then start again
    await until('a third of the burst to be answered', async () =>
      answered >= REQUESTS / 3 ? true : undefined,
    );
    const exited = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await Promise.all(requests);
    await exited;
    console.info('[crash-burst] killed');
    await procs.start();
    console.info('[crash-burst] restarted');

    console.info(`[crash-burst] ${acknowledged.size} of ${REQUESTS} acknowledged before the kill`);
    // Assess: the kill cut the burst
    expect(acknowledged.size).toBeGreaterThan(0);
    expect(acknowledged.size).toBeLessThan(REQUESTS);
    // every acknowledged task ends SUCCEEDED
    for (const [i, taskId] of acknowledged) {
      const t = await until(`burst ${i} to end`, async () => {
        const got = await call('GET', `/tasks/${taskId}`);
        return ENDED.includes(got.body.status) ? got.body : undefined;
      });
      expect(t.status, `burst ${i}`).toBe('SUCCEEDED');
    }
    // no orphan: whatever exists ends (the sweeper starts tasks whose start never went out)
    const all = await until('every task to end', async () => {
      const tasks = await listed();
      return tasks.every((t) => ENDED.includes(t.status)) ? tasks : undefined;
    });
    const cut = all.filter((t) => ![...acknowledged.values()].includes(t.taskId));
    console.info(`[crash-burst] ${cut.length} task(s) of requests cut by the kill exist, all ended`);
    // at most one task per request, and an acknowledged one is that task
    const byGoal = new Map<string, string[]>();
    for (const t of all) byGoal.set(t.goal, [...(byGoal.get(t.goal) ?? []), t.taskId]);
    for (const [goal, ids] of byGoal) expect(ids, goal).toHaveLength(1);
    for (const [i, taskId] of acknowledged) expect(byGoal.get(`burst ${i}`)).toEqual([taskId]);
    // the clients cut off retry with their keys: the task of a request that got through is found
    for (let i = 0; i < REQUESTS; i++) {
      if (acknowledged.has(i)) continue;
      const retried = await call('POST', '/tasks', body(i), { 'idempotency-key': `burst-${i}` });
      expect([200, 202], `retry of burst ${i}`).toContain(retried.status);
      const existing = byGoal.get(`burst ${i}`);
      if (existing) expect(retried.body.taskId, `retry of burst ${i}`).toBe(existing[0]);
    }
    // each task is listed under one status: its own
    const under = new Map<string, string[]>();
    for (const s of STATUSES)
      for (const t of await listed(s)) under.set(t.taskId, [...(under.get(t.taskId) ?? []), s]);
    for (const t of all) expect(under.get(t.taskId), t.taskId).toEqual([t.status]);
    // every trail is sound, with one submission, one execution and one outcome
    for (const t of all) {
      const events = await trail(t.taskId);
      expect(trailProblems(events, { ended: true }), t.taskId).toEqual([]);
      expect(
        events.filter((e) => e.type === 'ExecutionStarted'),
        t.taskId,
      ).toHaveLength(1);
      expect(
        events.filter((e) => e.type === 'StepSucceeded'),
        t.taskId,
      ).toHaveLength(1);
    }
  }, 300_000);
});
