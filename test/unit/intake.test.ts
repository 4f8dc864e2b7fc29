/**
 * Intake (lambdas/orchestrator/lifecycle.ts startTasks): an SQS batch of submissions becomes one
 * execution per task, the records started side by side, a failed record reported alone for
 * SQS to deliver again.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lambdas/adapters/workflow.js';
import type { OrchestratorDeps } from '../../lambdas/orchestrator/deps.js';
import { startTasks } from '../../lambdas/orchestrator/lifecycle.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { storedTask } from '../fakes/tasks.js';

const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:baton';
const sfnMock = mockClient(SFNClient);
let store: MemoryStore;
let deps: OrchestratorDeps;

const record = (taskId: string) => ({
  messageId: `m-${taskId}`,
  body: JSON.stringify({ taskId, run: 1, traceId: `tr-${taskId}` }),
});

beforeEach(async () => {
  sfnMock.reset();
  store = new MemoryStore();
  for (const id of ['t1', 't2', 't3'])
    await store.createTask(storedTask({ taskId: id, traceId: `tr-${id}` }), {});
  deps = {
    store,
    workflow: new WorkflowClient(new SFNClient({ region: 'us-east-1' }), SM),
    agentFunctions: {},
  };
});

describe('intake of a batch', () => {
  it('starts every record’s execution side by side, not one after another', async () => {
    // Prepare: each StartExecution answers only once all three are in flight
    let inFlight = 0;
    let most = 0;
    let release: () => void = () => {};
    const allIn = new Promise<void>((r) => {
      release = r;
    });
    sfnMock.on(StartExecutionCommand).callsFake(async (input: { name: string }) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      if (inFlight === 3) release();
      await Promise.race([allIn, new Promise((r) => setTimeout(r, 2000))]);
      inFlight -= 1;
      return { executionArn: `${SM.replace(':stateMachine:', ':execution:')}:${input.name}` };
    });

    // Act
    const failed = await startTasks(deps, [record('t1'), record('t2'), record('t3')]);

    // Assess
    expect(failed).toEqual([]);
    expect(most).toBe(3);
    for (const id of ['t1', 't2', 't3']) {
      const started = (await store.allEvents(id)).filter((e) => e.type === 'ExecutionStarted');
      expect(started.map((e) => e.traceId)).toEqual([`tr-${id}`]);
    }
  });

  it('reports only the record that failed; the others start', async () => {
    // Prepare
    sfnMock.on(StartExecutionCommand).callsFake(async (input: { name: string }) => {
      if (input.name.startsWith('t2'))
        throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
      return { executionArn: `arn:x:${input.name}` };
    });

    // Act
    const failed = await startTasks(deps, [record('t1'), record('t2'), record('t3'), record('nope')]);

    // Assess
    expect(failed).toEqual(['m-t2', 'm-nope']);
    expect((await store.allEvents('t1')).map((e) => e.type)).toEqual(['ExecutionStarted']);
    expect(await store.allEvents('t2')).toEqual([]);
    expect((await store.allEvents('t3')).map((e) => e.type)).toEqual(['ExecutionStarted']);
  });
});
