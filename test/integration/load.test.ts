/**
 * A bounded burst through local mode (issue 10, the load suite): 200 one-step tasks submitted
 * 20 at a time. Every accepted task reaches a terminal state exactly once: none lost, none
 * duplicated, none left QUEUED or RUNNING, one execution each. No timing is asserted (the
 * figures are `npm run bench`'s job); the test only bounds how long it waits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

const TASKS = 200;
const AT_ONCE = 20;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Every task of the runtime, through the paginated listing. */
async function listAll(): Promise<{ taskId: string; status: string; goal: string }[]> {
  const out: { taskId: string; status: string; goal: string }[] = [];
  let cursor: string | undefined;
  do {
    const page = await h.api<{ tasks: { taskId: string; status: string; goal: string }[]; next?: string }>(
      'GET',
      `/tasks?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    out.push(...page.body.tasks);
    cursor = page.body.next;
  } while (cursor);
  return out;
}

describe(`a burst of ${TASKS} submissions`, () => {
  it('ends every accepted task exactly once, with no orphan and no duplicate', async () => {
    // Prepare
    const goals = Array.from({ length: TASKS }, (_, i) => `burst ${i}`);

    // Act: 20 requests in flight at a time
    const accepted: string[] = [];
    for (let i = 0; i < TASKS; i += AT_ONCE) {
      const batch = await Promise.all(
        goals
          .slice(i, i + AT_ONCE)
          .map((goal) => h.api('POST', '/tasks', { goal, plan: { steps: [{ id: 'a', agent: 'echo' }] } })),
      );
      for (const res of batch) {
        expect(res.status).toBe(202);
        accepted.push(String(res.body.taskId));
      }
    }
    const deadline = Date.now() + 240_000;
    let open = new Set(accepted);
    while (open.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const still = new Set<string>();
      for (const t of await listAll())
        if (open.has(t.taskId) && !['SUCCEEDED', 'FAILED', 'DEGRADED'].includes(t.status))
          still.add(t.taskId);
      open = still;
    }

    // Assess: all terminal, each listed once, one execution and one outcome each
    expect([...open]).toEqual([]);
    expect(new Set(accepted).size).toBe(TASKS);
    const listed = (await listAll()).filter((t) => t.goal.startsWith('burst '));
    expect(listed).toHaveLength(TASKS);
    expect(listed.filter((t) => t.status !== 'SUCCEEDED')).toEqual([]);
    for (const taskId of accepted.filter((_, i) => i % 20 === 0)) {
      const types = (await h.events(taskId)).map((e) => e.type);
      expect(
        types.filter((t) => t === 'ExecutionStarted'),
        taskId,
      ).toHaveLength(1);
      expect(
        types.filter((t) => t === 'TaskSucceeded'),
        taskId,
      ).toHaveLength(1);
    }
  }, 300_000);
});
