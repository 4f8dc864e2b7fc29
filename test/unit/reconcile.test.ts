/**
 * The reconciler (lambdas/orchestrator/reconcile.ts) on the in-memory store, with the dead-letter
 * queue's SQS client mocked: each status it acts on, the endings Baton decided itself (Finalize,
 * cancel), an older run's event after a redrive, and repeated delivery.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DeadLetterQueue } from '../../lambdas/adapters/queue.js';
import { WorkflowClient } from '../../lambdas/adapters/workflow.js';
import { ContractViolationError } from '../../lambdas/core/errors.js';
import { Events } from '../../lambdas/core/events.js';
import { type ExecutionStatusChange, runOfExecution } from '../../lambdas/core/execution-status.js';
import { foldTask } from '../../lambdas/core/fold.js';
import { validatePlan } from '../../lambdas/core/plan.js';
import type { StoredTask } from '../../lambdas/core/ports.js';
import type { OrchestratorDeps } from '../../lambdas/orchestrator/deps.js';
import { reconcileExecution } from '../../lambdas/orchestrator/reconcile.js';
import { statusChangeEvent } from '../../lib/local/sfn/status-events.js';
import { MemoryStore } from '../fakes/memory-store.js';

const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:Baton-Workflow';
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters';
const sqsMock = mockClient(SQSClient);

const plan = validatePlan(
  {
    steps: [
      { id: 'a', agent: 'echo' },
      { id: 'b', agent: 'echo', dependsOn: ['a'] },
      { id: 'c', agent: 'echo' },
    ],
  },
  { knownAgents: new Set(['echo']), source: 'explicit' },
);
const task: StoredTask = {
  taskId: 't_1',
  goal: 'reconcile me',
  createdAt: '2030-01-01T00:00:00.000Z',
  traceId: 'tr',
  status: 'QUEUED',
  updatedAt: '2030-01-01T00:00:00.000Z',
  policy: {},
  run: 1,
  requestHash: 'h',
};
const scope = (run = 1) => ({ taskId: task.taskId, traceId: task.traceId, run });

/** The event AWS sends, built the way the local Step Functions builds it. */
function statusChange(
  status: ExecutionStatusChange['detail']['status'],
  opts: { run?: number; error?: string; cause?: string; name?: string } = {},
): ExecutionStatusChange {
  const name = opts.name ?? `${task.taskId}-r${opts.run ?? 1}`;
  return statusChangeEvent({
    executionArn: `${SM.replace(':stateMachine:', ':execution:')}:${name}`,
    stateMachineArn: SM,
    name,
    status,
    input: JSON.stringify({ taskId: task.taskId, run: opts.run ?? 1 }),
    startDate: '2030-01-01T00:00:01.000Z',
    ...(status !== 'RUNNING' ? { stopDate: '2030-01-08T00:00:01.000Z' } : {}),
    ...(opts.error ? { error: opts.error } : {}),
    ...(opts.cause ? { cause: opts.cause } : {}),
    redriveCount: 0,
    history: [],
  });
}

let store: MemoryStore;
let deps: OrchestratorDeps;

/** A task of run 1 whose step a succeeded and b is running; c never started. */
async function runningTask(): Promise<void> {
  await store.createTask(task, {});
  await store.putPlan(task.taskId, plan);
  await store.appendEvent(Events.taskSubmitted(scope(), { goal: task.goal, explicitPlan: true }));
  await store.appendEvent(
    Events.planCreated(scope(), {
      source: 'explicit',
      steps: plan.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })),
    }),
  );
  await store.appendEvent(
    Events.stepStarted({ ...scope(), stepId: 'a', attempt: 1 }, { attempt: 1, agent: 'echo', run: 1 }),
  );
  await store.appendEvent(
    Events.stepSucceeded(
      { ...scope(), stepId: 'a' },
      { attempt: 1, agent: 'echo', summary: 'done', artifacts: [] },
    ),
  );
  await store.putResult(task.taskId, {
    stepId: 'a',
    run: 1,
    status: 'SUCCEEDED',
    attempt: 1,
    agent: 'echo',
    summary: 'done',
    at: '2030-01-01T00:00:02.000Z',
  });
  await store.appendEvent(
    Events.stepStarted({ ...scope(), stepId: 'b', attempt: 2 }, { attempt: 2, agent: 'echo', run: 1 }),
  );
}

async function view() {
  const [t, p, events] = await Promise.all([
    store.getTask(task.taskId),
    store.getPlan(task.taskId),
    store.allEvents(task.taskId),
  ]);
  return { view: foldTask(t as StoredTask, p, events), events };
}

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm1' });
  store = new MemoryStore();
  deps = {
    store,
    workflow: new WorkflowClient(new SFNClient({ region: 'us-east-1' }), SM),
    agentFunctions: {},
    deadLetters: new DeadLetterQueue(new SQSClient({ region: 'us-east-1' }), QUEUE),
  };
});

describe('an execution that ended outside Baton', () => {
  it.each([
    [
      'TIMED_OUT',
      'Baton.ExecutionTimedOut',
      'States.Timeout',
      'The execution ran longer than its TimeoutSeconds',
    ],
    ['ABORTED', 'Baton.ExecutionAborted', 'Operator.Stop', 'stopped by hand'],
    ['FAILED', 'Baton.ExecutionFailed', 'States.TaskFailed', 'Finalize crashed'],
  ] as const)(
    '%s: the task ends FAILED with the reason and one dead letter',
    async (status, name, error, cause) => {
      // Prepare
      await runningTask();

      // Act
      const result = await reconcileExecution(deps, statusChange(status, { error, cause }));

      // Assess: the task and its unfinished steps failed with the execution's status, error and cause
      expect(result).toMatchObject({ outcome: 'recorded', taskId: task.taskId, run: 1 });
      const { view: v, events } = await view();
      expect(v.status).toBe('FAILED');
      expect(v.error).toEqual({ name, message: expect.stringContaining(`(${status}, ${error}: ${cause})`) });
      expect(v.plan.steps.map((s) => [s.id, s.status])).toEqual([
        ['a', 'SUCCEEDED'],
        ['b', 'FAILED'],
        ['c', 'FAILED'],
      ]);
      expect(events.filter((e) => e.type === 'StepFailed').map((e) => [e.stepId, e.data])).toEqual([
        [
          'b',
          { attempts: 2, error: v.error, reason: `the execution ended ${status} before the step finished` },
        ],
        [
          'c',
          { attempts: 0, error: v.error, reason: `the execution ended ${status} before the step finished` },
        ],
      ]);
      const results = await store.getResults(task.taskId);
      expect(results.get('b')).toMatchObject({ status: 'FAILED', run: 1, attempt: 2, error: v.error });
      expect(results.get('a')?.status).toBe('SUCCEEDED');
      // one dead letter, shaped as Finalize's: the record, the SQS message, the audit event
      const [letter] = await store.listDeadLetters({ limit: 10 });
      expect(letter).toMatchObject({
        taskId: task.taskId,
        run: 1,
        status: 'OPEN',
        error: v.error,
        failedSteps: [
          { stepId: 'b', status: 'FAILED', error: v.error },
          { stepId: 'c', status: 'FAILED', error: v.error },
        ],
        links: { redrive: `/tasks/${task.taskId}/redrive` },
      });
      const sent = sqsMock.commandCalls(SendMessageCommand);
      expect(sent).toHaveLength(1);
      expect(JSON.parse(sent[0]?.args[0].input.MessageBody ?? '{}')).toEqual(letter);
      expect(events.filter((e) => e.type === 'DeadLetterRecorded')).toHaveLength(1);
      expect(events.at(-1)?.type).toBe('TaskFailed');
    },
  );

  it('is idempotent: a repeated delivery writes nothing and sends no second dead letter', async () => {
    // Prepare
    await runningTask();
    const event = statusChange('TIMED_OUT', { error: 'States.Timeout' });
    await reconcileExecution(deps, event);
    const before = await store.allEvents(task.taskId);

    // Act
    const again = await reconcileExecution(deps, event);

    // Assess
    expect(again).toMatchObject({ outcome: 'ignored', reason: 'the task already ended FAILED' });
    expect(await store.allEvents(task.taskId)).toEqual(before);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(await store.listDeadLetters({ limit: 10 })).toHaveLength(1);
  });

  it('finishes what a delivery interrupted after its first writes, without writing them twice', async () => {
    // Prepare: the first delivery dies when it sends the dead letter (the record is written)
    await runningTask();
    sqsMock.on(SendMessageCommand).rejectsOnce(new Error('SQS is down')).resolves({ MessageId: 'm2' });
    const event = statusChange('ABORTED');
    await expect(reconcileExecution(deps, event)).rejects.toThrow(/dead-letter task/);

    // Act: EventBridge delivers it again
    const retried = await reconcileExecution(deps, event);

    // Assess: the task ended once; the step events were not written twice; the dead letter that
    // did not go out the first time went out now, once
    expect(retried.outcome).toBe('recorded');
    const { view: v, events } = await view();
    expect(v.status).toBe('FAILED');
    expect(events.filter((e) => e.type === 'TaskFailed')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'StepFailed')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'DeadLetterRecorded')).toHaveLength(1);
    expect(await store.listDeadLetters({ limit: 10 })).toHaveLength(1);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(2); // the failed send, then the one that went out
    expect(await reconcileExecution(deps, event)).toMatchObject({ outcome: 'ignored' });
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(2);
  });
});

describe('endings Baton decided itself', () => {
  it('leaves a task Finalize failed as it is', async () => {
    // Prepare: Finalize recorded the outcome before the Fail state ended the execution
    await runningTask();
    await store.appendEvent(
      Events.taskFailed(scope(), {
        error: { name: 'Baton.TaskFailed', message: 'required step b did not succeed' },
      }),
    );

    // Act
    const result = await reconcileExecution(deps, statusChange('FAILED', { error: 'Baton.TaskFailed' }));

    // Assess
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'the task already ended FAILED' });
    expect((await view()).view.error?.name).toBe('Baton.TaskFailed');
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(await store.listDeadLetters({ limit: 10 })).toHaveLength(0);
  });

  it('leaves a cancelled task CANCELLED, with no dead letter', async () => {
    // Prepare: cancel records CANCELLED, then stops the execution
    await runningTask();
    await store.appendEvent(Events.taskCancelled(scope(), { run: 1, previousStatus: 'RUNNING' }));

    // Act
    const result = await reconcileExecution(deps, statusChange('ABORTED', { error: 'Baton.Cancelled' }));

    // Assess
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'the task already ended CANCELLED' });
    expect((await view()).view.status).toBe('CANCELLED');
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('does not touch a newer run: an older run’s late event after a redrive is ignored', async () => {
    // Prepare: run 1 failed and was redriven; run 2 is running
    await runningTask();
    await store.appendEvent(
      Events.taskFailed(scope(), { error: { name: 'Baton.TaskFailed', message: 'b failed' } }),
    );
    await store.setRun(task.taskId, 2);
    await store.appendEvent(
      Events.taskRedriven(scope(2), { run: 2, previousRun: 1, previousStatus: 'FAILED' }),
    );
    await store.appendEvent(Events.planningStarted(scope(2)));
    const before = await store.allEvents(task.taskId);

    // Act
    const result = await reconcileExecution(deps, statusChange('ABORTED', { run: 1 }));

    // Assess
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'the task has moved on to run 2' });
    expect((await view()).view.status).toBe('PLANNING');
    expect(await store.allEvents(task.taskId)).toEqual(before);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});

describe('events the reconciler does not act on', () => {
  it('ignores RUNNING and SUCCEEDED, executions of other state machines, and names that are no task run', async () => {
    // Prepare
    await runningTask();
    const other = statusChange('ABORTED');
    other.detail.executionArn = other.detail.executionArn.replace('Baton-Workflow', 'Other');
    const stranger = statusChange('ABORTED', { name: 'manual-run' });
    stranger.detail.input = '{}';

    // Act
    const results = [
      await reconcileExecution(deps, statusChange('RUNNING')),
      await reconcileExecution(deps, statusChange('SUCCEEDED')),
      await reconcileExecution(deps, other),
      await reconcileExecution(deps, stranger),
    ];

    // Assess
    expect(results.map((r) => r.reason)).toEqual([
      'status RUNNING needs no reconciling',
      'status SUCCEEDED needs no reconciling',
      'not an execution of this deployment',
      'not an execution of a Baton task run',
    ]);
    expect((await view()).view.status).toBe('RUNNING');
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('refuses an event that is not an execution status change, naming what is wrong', async () => {
    await expect(reconcileExecution(deps, { source: 'aws.s3', detail: {} })).rejects.toBeInstanceOf(
      ContractViolationError,
    );
  });

  it('reads the run from the name when the event carries no input (too large for the event)', () => {
    const event = statusChange('TIMED_OUT', { run: 3 });
    event.detail.input = null;
    event.detail.inputDetails = { included: false };
    expect(runOfExecution(event.detail)).toEqual({ taskId: task.taskId, run: 3 });
  });
});
