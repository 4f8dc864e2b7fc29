/**
 * Redrive cut off part way (lambdas/api/tasks.ts redriveTask): the API reserves the next run,
 * records TaskRedriven, then sends the start. Cut after the reservation, the task is still FAILED
 * and the client saw an error: its retry finishes that run instead of skipping a number. Cut after
 * the event, the task is QUEUED for the new run and the intake sweeper sends its start.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { redriveTask } from '../../lambdas/api/tasks.js';
import { Events } from '../../lambdas/core/events.js';
import type { IntakeMessage } from '../../lambdas/core/schemas.js';
import { sweepQueuedTasks } from '../../lambdas/orchestrator/sweep.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { storedTask } from '../fakes/tasks.js';

let store: MemoryStore;
let sent: IntakeMessage[];
const queue = { send: async (m: IntakeMessage) => void sent.push(m) };
const scope = { taskId: 't1', traceId: 'tr', run: 1 };

beforeEach(async () => {
  store = new MemoryStore();
  sent = [];
  const at = new Date(Date.now() - 3600_000).toISOString();
  await store.createTask(storedTask({ createdAt: at }), {});
  await store.putPlan('t1', { steps: [{ id: 'a', agent: 'echo', input: {}, dependsOn: [] }] } as never);
  await store.appendEvent(Events.taskSubmitted(scope, { goal: 'g', explicitPlan: true }));
  await store.appendEvent(Events.taskFailed(scope, {}));
});

const deps = () => ({ store, queue }) as never;
const redriven = async () =>
  (await store.allEvents('t1')).filter((e) => e.type === 'TaskRedriven').map((e) => e.data);

describe('a redrive cut off part way', () => {
  it('is finished by the retry after a cut between reserving the run and recording it', async () => {
    // Prepare: the first redrive reserved run 2 and died
    expect(await store.setRun('t1', 2)).toBe(true);

    // Act: the client retries
    const retried = await redriveTask(deps(), 't1');

    // Assess: run 2 it is, recorded once, its start sent
    expect(retried).toMatchObject({ run: 2, status: 'QUEUED' });
    expect(await redriven()).toEqual([{ run: 2, previousRun: 1, previousStatus: 'FAILED' }]);
    expect(sent).toEqual([{ taskId: 't1', run: 2, traceId: 'tr' }]);
    expect((await store.getTask('t1'))?.run).toBe(2);
  });

  it('is started by the sweeper after a cut between recording it and sending the start', async () => {
    // Prepare: run 2 reserved and recorded, its start never sent
    const failing = { send: async () => Promise.reject(new Error('SQS is unreachable')) };
    await expect(redriveTask({ store, queue: failing } as never, 't1')).rejects.toThrow(/SQS/);
    expect((await store.getTask('t1'))?.status).toBe('QUEUED');

    // Act
    const swept = await sweepQueuedTasks({ store, queue }, new Date(Date.now() + 5000), { afterSeconds: 1 });

    // Assess: the start of run 2 went out, and a retried redrive is refused (the task is queued)
    expect(swept.requeued).toEqual(['t1']);
    expect(sent).toEqual([{ taskId: 't1', run: 2, traceId: 'tr' }]);
    await expect(redriveTask(deps(), 't1')).rejects.toThrow(/Only FAILED or DEGRADED/);
  });

  it('still refuses a second redrive of a run that was recorded', async () => {
    // Prepare
    await redriveTask(deps(), 't1');
    // Act / Assess: QUEUED now, so no third run
    await expect(redriveTask(deps(), 't1')).rejects.toThrow(/Only FAILED or DEGRADED/);
    expect(await redriven()).toHaveLength(1);
  });
});
