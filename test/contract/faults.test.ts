/**
 * Faults at every call (issue 10): a use case runs against the real DynamoDB adapters on dynalite,
 * through a document client whose send is stubbed with aws-sdk-client-mock so that its k-th call
 * fails — with a ThrottlingException (what DynamoDB answers under load once the SDK's own retries
 * are spent) or a ConditionalCheckFailedException (a conditional write losing to a concurrent
 * writer) — for every k the fault-free run makes. Then the use case runs again without faults,
 * as Lambda (an SQS redelivery, a Step Functions Retry) or the client (a retried POST) would run
 * it. Whatever call failed, the end state is the fault-free run's: one task, one submission, one
 * result, the dependent released, every event once.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IntakeQueue } from '../../lambdas/adapters/queue.js';
import { TaskStore } from '../../lambdas/adapters/store.js';
import { submitTask } from '../../lambdas/api/tasks.js';
import { Events } from '../../lambdas/core/events.js';
import type { AttemptRecord } from '../../lambdas/core/ports.js';
import type { IntakeMessage } from '../../lambdas/core/schemas.js';
import type { OrchestratorDeps } from '../../lambdas/orchestrator/deps.js';
import { loadContext } from '../../lambdas/orchestrator/gate.js';
import { completeStep } from '../../lambdas/orchestrator/steps.js';
import { sweepQueuedTasks } from '../../lambdas/orchestrator/sweep.js';
import { LOCAL_REGION } from '../../lib/local/emulators.js';
import { storedTask } from '../fakes/tasks.js';
import { type ContractTables, contractTables } from './tables.js';

let tables: ContractTables;
let real: DynamoDBDocumentClient;
beforeAll(async () => {
  tables = await contractTables('faults');
  real = tables.doc;
});
afterAll(async () => {
  await tables?.close();
});
const freshTable = () => tables.freshTable();

type Fault = 'ThrottlingException' | 'ConditionalCheckFailedException';
function failure(name: Fault): Error {
  return Object.assign(new Error(`injected ${name}`), {
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });
}

/**
 * A document client that forwards every call to the real one, except call number `failAt`
 * (1-based; 0 = none), which fails with `fault`. Counts the calls.
 */
function faulty(failAt: number, fault: Fault) {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: LOCAL_REGION }));
  const stub = mockClient(doc);
  let calls = 0;
  stub.send.callsFake(async (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
    calls += 1;
    if (calls === failAt) throw failure(fault);
    return real.send(command);
  });
  return { doc, calls: () => calls, restore: () => stub.restore() };
}

const FAULTS: Fault[] = ['ThrottlingException', 'ConditionalCheckFailedException'];

describe('POST /tasks with a DynamoDB fault at every call', () => {
  const body = { goal: 'faulted', plan: { steps: [{ id: 'a', agent: 'echo' }] } };

  async function submitOnce(table: string, failAt: number, fault: Fault, sent: IntakeMessage[]) {
    const client = faulty(failAt, fault);
    const queue = { send: async (m: IntakeMessage) => void sent.push(m) } as unknown as IntakeQueue;
    const deps = { store: new TaskStore(client.doc, table), queue, knownAgents: () => new Set(['echo']) };
    try {
      return await submitTask(deps as never, body, 'the-key');
    } finally {
      client.restore();
      lastCalls = client.calls();
    }
  }
  let lastCalls = 0;
  let callsOfCleanRun = 0;

  it('counts the calls of a fault-free submission', async () => {
    const sent: IntakeMessage[] = [];
    await submitOnce(await freshTable(), 0, 'ThrottlingException', sent);
    callsOfCleanRun = lastCalls;
    expect(callsOfCleanRun).toBeGreaterThan(3);
    expect(sent).toHaveLength(1);
  });

  for (const fault of FAULTS)
    it(`ends with one queued task and one submission whichever call fails with ${fault}`, async () => {
      for (let k = 1; k <= callsOfCleanRun; k++) {
        // Prepare
        const table = await freshTable();
        const sent: IntakeMessage[] = [];
        // Act: the faulted request (its error, if any, is what the client sees), the client's
        // retry with the same key, and a sweep of whatever a lost start left QUEUED
        const first = await submitOnce(table, k, fault, sent).catch((e: Error) => e);
        const retry = await submitOnce(table, 0, fault, sent);
        const store = new TaskStore(real, table);
        await sweepQueuedTasks(
          { store, queue: { send: async (m) => void sent.push(m) } },
          new Date(Date.now() + 3600_000),
        );

        // Assess
        const where = `${fault} at call ${k} of ${callsOfCleanRun}`;
        // a throttled call is never answered as a success: the client sees it and retries
        if (fault === 'ThrottlingException') expect(first, where).toBeInstanceOf(Error);
        if (!(first instanceof Error)) expect(first.taskId, where).toBe(retry.taskId);
        const listed = (await store.listTasks({ limit: 10 })).tasks;
        expect(
          listed.map((t) => t.taskId),
          where,
        ).toEqual([retry.taskId]);
        expect(listed[0]?.status, where).toBe('QUEUED');
        const events = await store.allEvents(retry.taskId);
        expect(
          events.map((e) => e.type),
          where,
        ).toEqual(['TaskSubmitted']);
        expect(
          (await store.getPlan(retry.taskId))?.steps.map((s) => s.id),
          where,
        ).toEqual(['a']);
        expect(new Set(sent.map((m) => `${m.taskId}/${m.run}`)), where).toEqual(
          new Set([`${retry.taskId}/1`]),
        );
      }
    });
});

// The runner numbers the completion's events before it completes; a completion without numbers
// reserves them itself. The events and the result are then written side by side (the
// StepSucceeded with the result, in one write: ResultPort.putSuccess).
describe.each([
  ['its events numbered by the runner', true],
  ['its events numbered at completion', false],
] as const)('step completion, %s, with a DynamoDB fault at every call', (_name, numbered) => {
  const scope = { taskId: 't1', traceId: 'tr', run: 1 };
  const at = '2030-01-01T00:00:00.000Z';
  const req = { taskId: 't1', run: 1, stepId: 'a', attempt: 1 };

  /** Task t1 with plan a → b, a's agent run (what it produced held as the runner holds it), b parked on its gate. */
  async function prepared(): Promise<string> {
    const table = await freshTable();
    const store = new TaskStore(real, table);
    await store.putPlan('t1', {
      source: 'explicit',
      steps: [
        { id: 'a', agent: 'echo', input: {}, dependsOn: [] },
        { id: 'b', agent: 'echo', input: {}, dependsOn: ['a'] },
      ],
    } as never);
    await store.createTask(storedTask({ createdAt: at }), {});
    await store.appendEvent(Events.taskSubmitted(scope, { goal: 'g', explicitPlan: true }));
    await store.appendEvent(Events.executionStarted(scope, { run: 1, executionName: 't1-r1' }));
    await store.appendEvent(
      Events.stepStarted({ ...scope, stepId: 'a', attempt: 1 }, { attempt: 1, agent: 'echo', run: 1 }),
    );
    await store.putToken('t1', 1, 'b', 'token-of-b');
    return table;
  }

  /** What a's agent produced, as the runner holds it once it reserved the completion's numbers. */
  async function produced(store: TaskStore): Promise<AttemptRecord> {
    const firstSeq = numbered ? (await store.reserveSeqs('t1', 1)).first : undefined;
    return {
      ...(firstSeq !== undefined ? { firstSeq } : {}),
      run: 1,
      stepId: 'a',
      attempt: 1,
      agent: 'echo',
      summary: 'done',
      output: { ok: true },
      artifacts: [],
      at,
    };
  }

  /**
   * One invocation of the runner's completion through a client failing at call `failAt`. `redo`:
   * the runner invoked again (Step Functions' retry): it looks first, and completes from what
   * was written, or runs the agent again (the same answer) when nothing was.
   */
  async function completeOnce(table: string, failAt: number, fault: Fault, released: string[], redo = false) {
    const ctx = await loadContext({ store: new TaskStore(real, table) }, 't1', 1);
    const client = faulty(failAt, fault);
    const store = new TaskStore(client.doc, table);
    const deps: OrchestratorDeps = {
      store,
      workflow: {
        succeed: async (token: string) => void released.push(token),
        fail: async (token: string) => void released.push(token),
      } as never,
      agentFunctions: {},
    };
    try {
      if (redo) {
        const look = await store.getStepContext('t1', ['a'], { run: 1, stepId: 'a' });
        if (look.succeeded) return await completeStep(deps, req, { ctx, attempt: look.succeeded });
        if (look.results.get('a')?.status === 'SUCCEEDED') return await completeStep(deps, req);
      }
      return await completeStep(deps, req, { ctx, attempt: await produced(store) });
    } finally {
      client.restore();
      lastCalls = client.calls();
    }
  }
  let lastCalls = 0;
  let callsOfCleanRun = 0;

  it('counts the calls of a fault-free completion', async () => {
    const released: string[] = [];
    await completeOnce(await prepared(), 0, 'ThrottlingException', released);
    callsOfCleanRun = lastCalls;
    // the reservation (the runner's or its own), the result with its StepSucceeded, b's gate read beside
    expect(callsOfCleanRun).toBe(3);
    expect(released).toEqual(['token-of-b']);
  });

  for (const fault of FAULTS)
    it(`records a's success once and releases b whichever call fails with ${fault}`, async () => {
      for (let k = 1; k <= callsOfCleanRun; k++) {
        // Prepare
        const table = await prepared();
        const released: string[] = [];
        // Act: the faulted invocation, then Step Functions' retry of the task state
        const first = await completeOnce(table, k, fault, released).catch((e: Error) => e);
        if (fault === 'ThrottlingException') expect(first, `throttled call ${k}`).toBeInstanceOf(Error);
        await completeOnce(table, 0, fault, released, true);

        // Assess
        const where = `${fault} at call ${k} of ${callsOfCleanRun}`;
        const store = new TaskStore(real, table);
        const events = await store.allEvents('t1');
        const succeeded = events.filter((e) => e.type === 'StepSucceeded');
        expect(
          succeeded.map((e) => e.stepId),
          where,
        ).toEqual(['a']);
        expect(new Set(events.map((e) => e.id)).size, where).toBe(events.length);
        const results = await store.getResults('t1');
        expect(results.get('a')?.status, where).toBe('SUCCEEDED');
        expect(results.get('a')?.output, where).toEqual({ ok: true });
        // the trail and the result name the same numbers (the event in its reserved place)
        if (numbered) expect(results.get('a')?.firstSeq, where).toBe(succeeded[0]?.seq);
        expect(new Set(released), where).toEqual(new Set(['token-of-b']));
      }
    });
});
