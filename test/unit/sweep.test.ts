/**
 * The intake sweeper (lambdas/orchestrator/sweep.ts): a task the API recorded but never enqueued
 * (it crashed, or SQS failed, between the two writes) is sent again once it has been QUEUED for
 * five minutes; tasks that are younger, or already running, are left alone.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { IntakeQueue } from '../../lambdas/adapters/queue.js';
import { submitTask } from '../../lambdas/api/tasks.js';
import type { IntakeMessage } from '../../lambdas/core/schemas.js';
import { SWEEP_AFTER_SECONDS, sweepQueuedTasks } from '../../lambdas/orchestrator/sweep.js';
import { MemoryStore } from '../fakes/memory-store.js';

let store: MemoryStore;
let sent: IntakeMessage[];
const queue = { send: async (m: IntakeMessage) => void sent.push(m) };

beforeEach(() => {
  store = new MemoryStore();
  sent = [];
});

/** POST /tasks whose enqueue fails (SQS down, or the process died there). */
async function submitWithoutEnqueue(goal: string): Promise<string> {
  let taskId = '';
  const failing = {
    send: async (m: IntakeMessage) => {
      taskId = m.taskId;
      throw new Error('SQS is unreachable');
    },
  } as unknown as IntakeQueue;
  await submitTask(
    { store, queue: failing, knownAgents: () => new Set(['echo']) } as never,
    { goal, plan: { steps: [{ id: 'a', agent: 'echo' }] } },
    undefined,
  ).catch(() => undefined);
  return taskId;
}

describe('the intake sweeper', () => {
  it('sends the start of a task left QUEUED by a failed enqueue, once it is five minutes old', async () => {
    // Prepare
    const taskId = await submitWithoutEnqueue('orphan');
    const task = await store.getTask(taskId);
    const created = Date.parse(task?.updatedAt ?? '');

    // Act
    const early = await sweepQueuedTasks({ store, queue }, new Date(created + 60_000));
    const late = await sweepQueuedTasks(
      { store, queue },
      new Date(created + (SWEEP_AFTER_SECONDS + 1) * 1000),
    );

    // Assess
    expect(early.requeued).toEqual([]);
    expect(late.requeued).toEqual([taskId]);
    expect(sent).toEqual([{ taskId, run: 1, traceId: task?.traceId }]);
    expect((await store.getPlan(taskId))?.steps.map((s) => s.id)).toEqual(['a']);
  });

  it('records the TaskSubmitted a crash right after the task’s META left out, once', async () => {
    // Prepare: the task's items without its event
    const at = new Date(Date.now() - 3600_000).toISOString();
    await store.createTask(
      {
        taskId: 't_crashed',
        goal: 'crashed after META',
        createdAt: at,
        updatedAt: at,
        traceId: 'trace-c',
        status: 'QUEUED',
        policy: {},
        run: 1,
        requestHash: 'h',
      },
      {},
    );

    // Act
    await sweepQueuedTasks({ store, queue });
    await sweepQueuedTasks({ store, queue });

    // Assess
    const submitted = (await store.allEvents('t_crashed')).filter((e) => e.type === 'TaskSubmitted');
    expect(submitted.map((e) => e.data)).toEqual([{ goal: 'crashed after META', explicitPlan: false }]);
    // (recording it touched the task, so the second sweep found it young and sent nothing more)
    expect(sent.map((m) => m.taskId)).toEqual(['t_crashed']);
  });

  it('leaves tasks that run, ended or were cancelled alone', async () => {
    // Prepare: a task that was enqueued and moved on
    const at = new Date(Date.now() - 3600_000).toISOString();
    await store.createTask(
      {
        taskId: 't_running',
        goal: 'g',
        createdAt: at,
        updatedAt: at,
        traceId: 'x',
        status: 'RUNNING',
        policy: {},
        run: 1,
        requestHash: 'h',
      },
      {},
    );

    // Act
    const result = await sweepQueuedTasks({ store, queue });

    // Assess
    expect(result.requeued).toEqual([]);
    expect(sent).toEqual([]);
  });
});
