/**
 * Two local runtimes in one process share no module state: each LocalStepFunctions has its own
 * tokens and executions, and each runtime's console approval links go to that runtime's log.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ApprovalNotification,
  ConsoleApprovalNotifier,
  withConsoleApprovalSink,
} from '../../lambdas/adapters/notifier.js';
import { LocalStepFunctions } from '../../lib/local/sfn/index.js';

const SM_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:Isolated';
const DEFINITION = {
  StartAt: 'Approve',
  States: {
    Approve: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: 'Notify', Payload: { 'token.$': '$$.Task.Token' } },
      TimeoutSeconds: 30,
      End: true,
    },
  },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A LocalStepFunctions whose Notify function hands the task token to the test. */
async function stepFunctions(): Promise<{ sfn: LocalStepFunctions; nextToken: Promise<string> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'baton-isolation-'));
  let handOver: (token: string) => void = () => undefined;
  const nextToken = new Promise<string>((resolve) => {
    handOver = resolve;
  });
  const sfn = new LocalStepFunctions({
    dataDir,
    invokeLambda: async (_name, payload) => {
      handOver((payload as { token: string }).token);
      return null;
    },
  });
  sfn.registerStateMachine(SM_ARN, DEFINITION);
  cleanups.push(async () => {
    await sfn.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { sfn, nextToken };
}

const notification: ApprovalNotification = {
  approvalId: 'ap-1',
  taskId: 't-1',
  stepId: 's1',
  kind: 'step',
  goal: 'g',
  url: 'http://127.0.0.1:1/approvals/ap-1',
  expiresAt: new Date('2030-01-01T00:00:00Z'),
};

describe('two local runtimes in one process', () => {
  it('keep their own task tokens: a token of one is unknown to the other', async () => {
    // Prepare
    const a = await stepFunctions();
    const b = await stepFunctions();
    const { executionArn } = (await a.sfn.handle('StartExecution', {
      stateMachineArn: SM_ARN,
      name: 'one',
    })) as {
      executionArn: string;
    };
    const token = await a.nextToken;

    // Act
    const inB = await b.sfn
      .handle('SendTaskSuccess', { taskToken: token, output: '{}' })
      .catch((err: Error) => err);
    await a.sfn.handle('SendTaskSuccess', { taskToken: token, output: '{"ok":true}' });
    await a.sfn.idle();
    const described = await a.sfn.handle('DescribeExecution', { executionArn });
    const inBExecutions = await b.sfn.handle('ListExecutions', { stateMachineArn: SM_ARN });

    // Assess
    expect(inB).toMatchObject({ name: 'InvalidToken' });
    expect(described).toMatchObject({ status: 'SUCCEEDED', output: '{"ok":true}' });
    expect(inBExecutions).toEqual({ executions: [] });
  });

  it('write console approval links to the sink of the invocation that made them', async () => {
    // Prepare: one notifier, as a function module creates it once for every invocation.
    const notifier = new ConsoleApprovalNotifier();
    const linesA: string[] = [];
    const linesB: string[] = [];

    // Act: interleaved invocations of two runtimes.
    await Promise.all([
      withConsoleApprovalSink(
        (line) => linesA.push(line),
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          await notifier.notify({ ...notification, taskId: 'from-a' });
        },
      ),
      withConsoleApprovalSink(
        (line) => linesB.push(line),
        () => notifier.notify({ ...notification, taskId: 'from-b' }),
      ),
    ]);

    // Assess
    expect(linesA).toHaveLength(1);
    expect(linesA[0]).toContain('task from-a');
    expect(linesB).toHaveLength(1);
    expect(linesB[0]).toContain('task from-b');
  });
});
