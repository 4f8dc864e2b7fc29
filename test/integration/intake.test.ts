import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../lambdas/adapters/clients.js';
import { TaskStore } from '../../lambdas/adapters/store.js';
import { Events } from '../../lambdas/core/events.js';
import { newTaskId, newTraceId } from '../../lambdas/core/ids.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('a task recorded but never enqueued', () => {
  it('is sent again by the intake sweep and runs to SUCCEEDED, its trail saying nothing was lost', async () => {
    // Prepare: what POST /tasks writes before its enqueue, ten minutes ago, and no message
    const store = new TaskStore(documentClient(), String(process.env.TABLE_NAME));
    const taskId = newTaskId();
    const traceId = newTraceId();
    const at = new Date(Date.now() - 10 * 60_000).toISOString();
    await store.putPlan(taskId, {
      source: 'explicit',
      steps: [
        {
          id: 'a',
          agent: 'echo',
          input: {},
          dependsOn: [],
          timeoutSeconds: 60,
          retry: { maxAttempts: 1, intervalSeconds: 1, backoffRate: 2 },
          approval: 'none',
          optional: false,
        },
      ],
    });
    await store.createTask(
      {
        taskId,
        goal: 'orphaned',
        createdAt: at,
        updatedAt: at,
        traceId,
        status: 'QUEUED',
        policy: {},
        run: 1,
        requestHash: 'h',
      },
      {},
    );
    await store.appendEvent({
      ...Events.taskSubmitted({ taskId, traceId, run: 1 }, { goal: 'orphaned', explicitPlan: true }),
      at,
    });
    const before = await h.task(taskId);

    // Act
    await h.rt.runScheduled();
    const done = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);

    // Assess
    expect(before.status).toBe('QUEUED');
    expect(done.status).toBe('SUCCEEDED');
    const types = (await h.events(taskId)).map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['TaskSubmitted', 'ExecutionStarted', 'PlanCreated']);
    expect(types.filter((t) => t === 'ExecutionStarted')).toHaveLength(1);
  });

  it('leaves a task that was enqueued as it was: one execution, whatever the sweep does', async () => {
    // Prepare
    const taskId = await h.submit({ goal: 'enqueued', plan: { steps: [{ id: 'a', agent: 'echo' }] } });

    // Act
    await h.rt.runScheduled();
    const done = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    await h.rt.runScheduled();

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect((await h.events(taskId)).filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
  });
});
