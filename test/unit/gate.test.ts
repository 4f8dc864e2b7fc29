/**
 * The dependency gate's AwaitDependencies (lambdas/orchestrator/gate.ts): what it reads and
 * writes on its happy path, on the memory store with the Step Functions client mocked.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkflowClient } from '../../lambdas/adapters/workflow.js';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { Events } from '../../lambdas/core/events.js';
import { validatePlan } from '../../lambdas/core/plan.js';
import type { StepResult } from '../../lambdas/core/ports.js';
import type { OrchestratorDeps } from '../../lambdas/orchestrator/deps.js';
import { awaitDependencies } from '../../lambdas/orchestrator/gate.js';
import { completeStep, failStep } from '../../lambdas/orchestrator/steps.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { storedTask } from '../fakes/tasks.js';

const sfnMock = mockClient(SFNClient);
const plan = validatePlan(
  {
    steps: [
      { id: 'a', agent: 'echo' },
      { id: 'b', agent: 'echo', dependsOn: ['a'] },
    ],
  },
  { knownAgents: new Set(['echo']), source: 'explicit' },
);
const task = storedTask({ taskId: 't1', traceId: 'trace-of-t1', status: 'RUNNING' });

let store: MemoryStore;
let deps: OrchestratorDeps;

beforeEach(async () => {
  sfnMock.reset();
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  sfnMock.on(SendTaskFailureCommand).resolves({});
  store = new MemoryStore();
  await store.createTask(task, {});
  await store.putPlan(task.taskId, plan);
  deps = {
    store,
    workflow: new WorkflowClient(
      new SFNClient({ region: 'us-east-1' }),
      'arn:aws:states:us-east-1:0:stateMachine:x',
    ),
    agentFunctions: {},
  };
});

describe('AwaitDependencies', () => {
  it('parks a step whose dependency runs: token stored, StepWaiting with the trace id of its input, task record not read', async () => {
    // Prepare
    const getTask = vi.spyOn(store, 'getTask');

    // Act
    await awaitDependencies(deps, {
      taskId: 't1',
      run: 1,
      stepId: 'b',
      taskToken: 'tok-b',
      traceId: 'trace-of-t1',
    });

    // Assess
    expect(await store.getToken('t1', 1, 'b')).toBe('tok-b');
    const waiting = (await store.allEvents('t1')).filter((e) => e.type === 'StepWaiting');
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatchObject({ stepId: 'b', traceId: 'trace-of-t1', data: { waitingFor: ['a'] } });
    expect(getTask).not.toHaveBeenCalled();
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('releases a step whose dependencies succeeded at once, with run', async () => {
    // Prepare
    await store.appendEvent(
      Events.stepSucceeded(
        { taskId: 't1', traceId: 'trace-of-t1', run: 1, stepId: 'a' },
        { attempt: 1, agent: 'echo', summary: 'done', artifacts: [] },
      ),
    );
    await store.putResult('t1', {
      stepId: 'a',
      run: 1,
      status: 'SUCCEEDED',
      attempt: 1,
      agent: 'echo',
      at: 'x',
    });

    // Act
    await awaitDependencies(deps, {
      taskId: 't1',
      run: 1,
      stepId: 'b',
      taskToken: 'tok-b',
      traceId: 'trace-of-t1',
    });

    // Assess
    const sent = sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(sent).toEqual([{ taskToken: 'tok-b', output: JSON.stringify({ action: 'run' }) }]);
    expect((await store.allEvents('t1')).some((e) => e.type === 'StepWaiting')).toBe(false);
  });

  it('reads the trace id from the task record when its input has none (an execution started before it was passed)', async () => {
    // Prepare
    const read = vi.spyOn(store, 'getTaskAndPlan');

    // Act
    await awaitDependencies(deps, { taskId: 't1', run: 1, stepId: 'b', taskToken: 'tok-b' });

    // Assess
    expect(read).toHaveBeenCalledWith('t1');
    const waiting = (await store.allEvents('t1')).find((e) => e.type === 'StepWaiting');
    expect(waiting?.traceId).toBe('trace-of-t1');
  });

  it('refuses a task that has no plan, storing nothing but the token', async () => {
    // Act / Assess
    await expect(
      awaitDependencies(deps, { taskId: 'nope', run: 1, stepId: 'b', taskToken: 'tok', traceId: 'x' }),
    ).rejects.toThrow(/has no plan/);
    expect(await store.allEvents('nope')).toEqual([]);
  });
});

describe('AwaitDependencies with its step in the payload (the Map item carries dependsOn, approval, forEach)', () => {
  const carried = (stepId: string, dependsOn: string[]) => ({
    taskId: 't1',
    run: 1,
    stepId,
    taskToken: `tok-${stepId}`,
    traceId: 'trace-of-t1',
    routes: true as const,
    dependsOn,
    approval: false,
    forEach: false,
  });
  let planReads: ReturnType<typeof vi.spyOn>;
  beforeEach(() => {
    planReads = vi.spyOn(store, 'getPlan');
  });

  it('answers a root step at once, storing no token and reading no plan', async () => {
    // Act
    await awaitDependencies(deps, carried('a', []));

    // Assess
    const sent = sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(sent).toEqual([{ taskToken: 'tok-a', output: JSON.stringify({ action: 'run' }) }]);
    expect(await store.getToken('t1', 1, 'a')).toBeUndefined();
    expect(planReads).not.toHaveBeenCalled();
  });

  it('parks a dependent with its token and its StepWaiting, reading no plan; its dependency releases it', async () => {
    // Act
    await awaitDependencies(deps, carried('b', ['a']));
    const parked = await store.getToken('t1', 1, 'b');
    await completeStep(
      deps,
      { taskId: 't1', run: 1, stepId: 'a', attempt: 1 },
      {
        ctx: { task, plan, run: 1 },
        attempt: {
          stepId: 'a',
          run: 1,
          attempt: 1,
          agent: 'echo',
          summary: 'a done',
          artifacts: [],
          at: new Date().toISOString(),
          firstSeq: (await store.reserveSeqs('t1', 1)).first,
        },
      },
    );

    // Assess
    expect(parked).toBe('tok-b');
    const waiting = (await store.allEvents('t1')).find((e) => e.type === 'StepWaiting');
    expect(waiting).toMatchObject({ stepId: 'b', data: { waitingFor: ['a'] } });
    expect(planReads).not.toHaveBeenCalled();
    const sent = sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken);
    expect(sent).toEqual(['tok-b']);
  });

  it('parks without an event when the Plan state wrote its StepWaiting, by the payload or by the plan', async () => {
    // Act: one gate deciding from its payload, one reading the plan (dependencies not carried)
    await awaitDependencies(deps, { ...carried('b', ['a']), waitRecorded: true });
    const fromPayload = await store.getToken('t1', 1, 'b');
    await awaitDependencies(deps, {
      taskId: 't1',
      run: 1,
      stepId: 'b',
      taskToken: 'tok-b2',
      traceId: 'trace-of-t1',
      routes: true,
      dependsOn: null,
      waitRecorded: true,
    });

    // Assess: both parked (their tokens stored), neither released, no event written
    expect(fromPayload).toBe('tok-b');
    expect(await store.getToken('t1', 1, 'b')).toBe('tok-b2');
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toEqual([]);
    expect(await store.allEvents('t1')).toEqual([]);
  });

  it('routes a root step with an approval gate to its approval, from the payload alone', async () => {
    // Act
    await awaitDependencies(deps, { ...carried('a', []), approval: true });

    // Assess
    const failed = sfnMock.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input);
    expect(failed).toMatchObject([{ taskToken: 'tok-a', error: ErrorNames.GateApproval }]);
    expect(planReads).not.toHaveBeenCalled();
  });

  it('reads the plan to skip a step whose dependency failed, and writes the skip', async () => {
    // Prepare
    await store.putResult('t1', { stepId: 'a', run: 1, status: 'FAILED', agent: 'echo', at: 'x' });

    // Act
    await awaitDependencies(deps, carried('b', ['a']));

    // Assess
    expect((await store.getResults('t1', ['b'])).get('b')?.status).toBe('SKIPPED');
    const failed = sfnMock.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input);
    expect(failed).toMatchObject([{ taskToken: 'tok-b', error: ErrorNames.GateNotRun }]);
    expect(planReads).toHaveBeenCalled();
  });
});

describe("a step's completion releasing its dependents", () => {
  const diamond = validatePlan(
    {
      steps: [
        { id: 'a', agent: 'echo' },
        { id: 'c', agent: 'echo' },
        { id: 'b', agent: 'echo', dependsOn: ['a'] },
        { id: 'j', agent: 'echo', dependsOn: ['a', 'c'] },
      ],
    },
    { knownAgents: new Set(['echo']), source: 'explicit' },
  );
  const attempt = (stepId: string, firstSeq: number) => ({
    stepId,
    run: 1,
    attempt: 1,
    agent: 'echo',
    summary: `${stepId} done`,
    artifacts: [],
    at: new Date().toISOString(),
    firstSeq,
  });
  const complete = async (stepId: string) =>
    completeStep(
      deps,
      { taskId: 't1', run: 1, stepId, attempt: 1 },
      {
        ctx: { task, plan: diamond, run: 1 },
        attempt: attempt(stepId, (await store.reserveSeqs('t1', 1)).first),
      },
    );
  /** Step a's result: FAILED in run 1. */
  const aFailed = (): StepResult => ({
    stepId: 'a',
    run: 1,
    status: 'FAILED',
    attempt: 1,
    agent: 'echo',
    error: { name: 'Baton.AgentFailed', message: 'x' },
    at: new Date().toISOString(),
  });
  const sentTokens = () => sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken);

  it('releases a parked dependent found ready beside its result write, without a second look', async () => {
    // Prepare: b parked on a alone
    await store.putToken('t1', 1, 'b', 'tok-b');
    const looks = vi.spyOn(store, 'getResultsAndToken');

    // Act
    await complete('a');

    // Assess: b released with run after one look each at b and j (j waits for c: looked at again)
    expect(sentTokens()).toEqual(['tok-b']);
    expect(looks.mock.calls.map((c) => c[2].stepId).sort()).toEqual(['b', 'j', 'j']);
    const succeeded = (await store.allEvents('t1')).find((e) => e.type === 'StepSucceeded');
    expect((await store.getResults('t1')).get('a')).toMatchObject({
      status: 'SUCCEEDED',
      firstSeq: succeeded?.seq,
    });
  });

  it('looks again after the write at a dependent not parked yet or waiting on another step, and loses no wake-up', async () => {
    // Prepare: j waits for a and c; c completes first (j not parked yet), then j parks, then a completes
    await complete('c');
    await store.putToken('t1', 1, 'j', 'tok-j');
    expect(sentTokens()).toEqual([]);

    // Act
    await complete('a');

    // Assess
    expect(sentTokens()).toEqual(['tok-j']);
  });

  it('does not release unseen when its result was not written (a result of this run exists)', async () => {
    // Prepare: a ended FAILED in this run (its gate path), b parked (on this definition: routes)
    await store.putResult('t1', aFailed());
    await store.putToken('t1', 1, 'b', 'tok-b', true);

    // Act: a late attempt's completion
    await complete('a');

    // Assess: b is looked at again and skipped (its gate's route), not run
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    const routes = sfnMock.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input);
    expect(routes).toMatchObject([{ taskToken: 'tok-b', error: ErrorNames.GateNotRun }]);
  });

  it('answers a gate parked on an older definition (its token stored without routes) with { action }, whatever it is', async () => {
    // Prepare: a failed in this run; b parked by an execution on the definition with the Proceed
    // Choice (its token stored without the routes flag), j by one on this definition
    await store.putResult('t1', aFailed());
    await store.putToken('t1', 1, 'b', 'tok-b');
    await store.putToken('t1', 1, 'j', 'tok-j', true);

    // Act
    await failStep(
      deps,
      { task, plan: diamond, run: 1 },
      { stepId: 'a', run: 1, attempts: 1, error: { name: 'x', message: 'y' }, reason: 'z' },
    );

    // Assess: b (older definition) gets the success with skip; j (this definition) its route
    const sent = sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(sent).toEqual([{ taskToken: 'tok-b', output: JSON.stringify({ action: 'skip' }) }]);
    const routes = sfnMock.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input);
    expect(routes).toMatchObject([{ taskToken: 'tok-j', error: ErrorNames.GateNotRun }]);
  });
});
