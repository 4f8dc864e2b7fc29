/**
 * Executions that end outside Baton, through the local runtime: the local Step Functions emits
 * "Step Functions Execution Status Change" events, the template's EventBridge rule takes them to
 * the reconciler, and the task ends FAILED with the reason and exactly one dead letter. Baton's
 * own endings (Finalize's FAILED, a cancel) are left as they are, with no second dead letter.
 */
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLocalNames, resolveIntrinsics, resourcesOfType } from '../../lib/local/template.js';
import { type Harness, startHarness, type TrailEvent } from './harness.js';

let h: Harness;
let sqs: SQSClient;
/** Every message taken from the task dead-letter queue so far, by task id. */
const deadLetters = new Map<string, Record<string, unknown>[]>();

const clientConfig = () => ({
  region: 'us-east-1',
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'local',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
  },
});

beforeAll(async () => {
  h = await startHarness();
  sqs = new SQSClient({ ...clientConfig(), endpoint: process.env.AWS_ENDPOINT_URL_SQS });
});
afterAll(async () => {
  sqs?.destroy();
  await h?.close();
});

/** Drains the task dead-letter queue (Finalize's and the reconciler's) into `deadLetters`. */
async function drainDeadLetters(): Promise<void> {
  const QueueUrl = process.env.DEAD_LETTER_QUEUE_URL as string;
  for (;;) {
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        WaitTimeSeconds: 0,
      }),
    );
    if (!res.Messages?.length) return;
    for (const m of res.Messages) {
      const body = JSON.parse(m.Body ?? '{}') as Record<string, unknown>;
      const taskId = String(body.taskId);
      deadLetters.set(taskId, [...(deadLetters.get(taskId) ?? []), body]);
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

/** The execution ARN of a run, as intake recorded it. */
async function executionArnOf(taskId: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const started = (await h.events(taskId)).find((e) => e.type === 'ExecutionStarted');
    if (typeof started?.data.executionArn === 'string') return started.data.executionArn;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`task ${taskId} has no ExecutionStarted event`);
}

async function waitForStep(taskId: string, stepId: string, status: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const view = await h.task(taskId);
    if (view.plan.steps.find((s) => s.id === stepId)?.status === status) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`step ${stepId} of ${taskId} never became ${status}`);
}

const ofType = (events: TrailEvent[], type: string) => events.filter((e) => e.type === type);

describe('an execution stopped behind Baton’s back', () => {
  it('ends the task FAILED with the reason, the unfinished steps FAILED, and exactly one dead letter', async () => {
    // Prepare: a task whose first step takes a while
    const taskId = await h.submit({
      goal: 'stopped outside Baton',
      plan: {
        steps: [
          { id: 'slow', agent: 'sleep', input: { ms: 20_000 } },
          { id: 'after', agent: 'echo', dependsOn: ['slow'] },
        ],
      },
    });
    const executionArn = await executionArnOf(taskId);
    await waitForStep(taskId, 'slow', 'RUNNING');
    const sfn = new SFNClient({ ...clientConfig(), endpoint: process.env.AWS_ENDPOINT_URL_SFN });

    // Act: StopExecution through the SFN API, not through Baton
    await sfn.send(
      new StopExecutionCommand({ executionArn, error: 'Operator.Stop', cause: 'stopped by hand' }),
    );
    sfn.destroy();
    const task = await h.waitFor(taskId, ['FAILED', 'CANCELLED', 'SUCCEEDED'], 30_000);
    await h.rt.idle();
    await drainDeadLetters();

    // Assess: FAILED with the execution's status, error and cause
    expect(task.status).toBe('FAILED');
    expect(task.error).toEqual({
      name: 'Baton.ExecutionAborted',
      message: expect.stringContaining('(ABORTED, Operator.Stop: stopped by hand)'),
    });
    expect(task.plan.steps.map((s) => [s.id, s.status])).toEqual([
      ['slow', 'FAILED'],
      ['after', 'FAILED'],
    ]);
    const events = await h.events(taskId);
    expect(ofType(events, 'TaskFailed')).toHaveLength(1);
    expect(ofType(events, 'TaskFailed')[0]?.data.error).toEqual(task.error);
    expect(ofType(events, 'DeadLetterRecorded')).toHaveLength(1);
    expect(ofType(events, 'StepFailed').map((e) => e.data.reason)).toEqual([
      'the execution ended ABORTED before the step finished',
      'the execution ended ABORTED before the step finished',
    ]);
    expect(deadLetters.get(taskId)).toEqual([
      expect.objectContaining({
        taskId,
        run: 1,
        status: 'OPEN',
        error: task.error,
        failedSteps: [
          expect.objectContaining({ stepId: 'slow', status: 'FAILED' }),
          expect.objectContaining({ stepId: 'after', status: 'FAILED' }),
        ],
      }),
    ]);
    const listed = await h.api<{ deadLetters: { taskId: string; error: unknown }[] }>('GET', '/dead-letters');
    expect(listed.body.deadLetters.filter((d) => d.taskId === taskId)).toEqual([
      expect.objectContaining({ error: task.error }),
    ]);
  });
});

describe('endings Baton decided itself', () => {
  it('a cancel through the API stays CANCELLED, with no dead letter', async () => {
    // Prepare
    const taskId = await h.submit({
      goal: 'cancelled through Baton',
      plan: { steps: [{ id: 'slow', agent: 'sleep', input: { ms: 20_000 } }] },
    });
    const executionArn = await executionArnOf(taskId);
    await waitForStep(taskId, 'slow', 'RUNNING');

    // Act
    const res = await h.api('POST', `/tasks/${taskId}/cancel`);
    await h.rt.idle();
    await drainDeadLetters();

    // Assess: the execution was ABORTED (its event reached the reconciler), the task is untouched
    expect(res.status).toBe(202);
    expect((await h.rt.stepFunctions.handle('DescribeExecution', { executionArn })).status).toBe('ABORTED');
    expect((await h.task(taskId)).status).toBe('CANCELLED');
    const events = await h.events(taskId);
    expect(ofType(events, 'TaskFailed')).toHaveLength(0);
    expect(ofType(events, 'DeadLetterRecorded')).toHaveLength(0);
    expect(deadLetters.get(taskId)).toBeUndefined();
  });

  it('a task Finalize failed keeps its outcome and its one dead letter', async () => {
    // Prepare and act: a required step that always fails; the execution then ends FAILED
    const taskId = await h.submit({
      goal: 'failed by Finalize',
      plan: { steps: [{ id: 'bad', agent: 'fail', retry: { maxAttempts: 1 } }] },
    });
    const executionArn = await executionArnOf(taskId);
    const task = await h.waitFor(taskId, ['FAILED', 'SUCCEEDED']);
    await h.rt.idle();
    await drainDeadLetters();

    // Assess: Finalize's outcome, one dead letter, and the reconciler added nothing
    expect((await h.rt.stepFunctions.handle('DescribeExecution', { executionArn })).status).toBe('FAILED');
    expect(task.error?.name).toBe('Baton.TaskFailed');
    const events = await h.events(taskId);
    expect(ofType(events, 'TaskFailed')).toHaveLength(1);
    expect(ofType(events, 'DeadLetterRecorded')).toHaveLength(1);
    expect(deadLetters.get(taskId)).toHaveLength(1);
    expect((await h.task(taskId)).error).toEqual(task.error);
  });
});

describe('an execution that times out', () => {
  it('ends the task FAILED with States.Timeout and a dead letter (execution timeout shortened here only)', async () => {
    // Prepare: this runtime's state machine with a 5 s execution timeout (what ships keeps 7 days)
    const [smId, sm] = resourcesOfType(h.rt.template, 'AWS::StepFunctions::StateMachine')[0] ?? [];
    if (!smId || !sm) throw new Error('the template has no state machine');
    const names = defaultLocalNames(() => {
      throw new Error('the definition names no queue');
    });
    const definition = JSON.parse(
      String(resolveIntrinsics(sm.Properties?.DefinitionString, h.rt.template, names)),
    );
    const smArn = names.ref(smId, sm);
    h.rt.stepFunctions.registerStateMachine(smArn, { ...definition, TimeoutSeconds: 5 });
    try {
      const taskId = await h.submit({
        goal: 'times out',
        plan: { steps: [{ id: 'stuck', agent: 'hang', timeoutSeconds: 60 }] },
      });

      // Act
      const task = await h.waitFor(taskId, ['FAILED', 'SUCCEEDED'], 30_000);
      await h.rt.idle();
      await drainDeadLetters();

      // Assess
      expect(task.error).toEqual({
        name: 'Baton.ExecutionTimedOut',
        message: expect.stringContaining('timed out (TIMED_OUT, States.Timeout'),
      });
      expect(task.plan.steps[0]?.status).toBe('FAILED');
      expect(deadLetters.get(taskId)).toHaveLength(1);
      expect(ofType(await h.events(taskId), 'DeadLetterRecorded')).toHaveLength(1);
    } finally {
      h.rt.stepFunctions.registerStateMachine(smArn, definition);
    }
  });
});
