import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalLambdaInvoker, LocalStepFunctions, SfnServiceError } from '../../lib/local/sfn/index.js';

const SM_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:Test';
const execArn = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:Test:${name}`;
const fnArn = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`;
const INVOKE = 'arn:aws:states:::lambda:invoke';
const INVOKE_WAIT = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

type Payload = Record<string, unknown>;
type FakeFunction = (payload: Payload) => unknown;

interface Call {
  functionName: string;
  payload: Payload;
}

interface Waiter {
  functionName: string;
  resolve: (call: Call) => void;
}

/** In-process "Lambdas" that record every invocation and let a test await the next one. */
class FakeLambdas {
  readonly calls: Call[] = [];
  private readonly waiters: Waiter[] = [];
  private seen = new Map<string, number>();

  constructor(private readonly functions: Record<string, FakeFunction>) {}

  readonly invoke: LocalLambdaInvoker = async (functionName, payload) => {
    const call = { functionName, payload: payload as Payload };
    this.calls.push(call);
    const waiter = this.waiters.findIndex((w) => w.functionName === functionName);
    if (waiter >= 0) {
      const [{ resolve }] = this.waiters.splice(waiter, 1) as [Waiter];
      this.seen.set(functionName, (this.seen.get(functionName) ?? 0) + 1);
      resolve(call);
    }
    const fn = this.functions[functionName];
    if (!fn)
      throw Object.assign(new Error(`Function not found: ${functionName}`), {
        name: 'Lambda.ResourceNotFoundException',
      });
    return fn(call.payload);
  };

  /** Resolves with the next not yet awaited call of `functionName` (possibly one that already happened). */
  next(functionName: string): Promise<Call> {
    const made = this.calls.filter((c) => c.functionName === functionName);
    const consumed = this.seen.get(functionName) ?? 0;
    const call = made[consumed];
    if (call) {
      this.seen.set(functionName, consumed + 1);
      return Promise.resolve(call);
    }
    return new Promise((resolve) => this.waiters.push({ functionName, resolve }));
  }

  count(functionName: string): number {
    return this.calls.filter((c) => c.functionName === functionName).length;
  }
}

class LambdaError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'baton-sfn-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function emulator(definition: object, functions: Record<string, FakeFunction>, dataDir?: string) {
  const lambdas = new FakeLambdas(functions);
  const dir = dataDir ?? (await tempDir());
  const sfn = new LocalStepFunctions({ dataDir: dir, invokeLambda: lambdas.invoke });
  sfn.registerStateMachine(SM_ARN, definition);
  cleanups.push(() => sfn.close());
  return { sfn, lambdas, dataDir: dir };
}

async function start(sfn: LocalStepFunctions, input: unknown, name?: string): Promise<string> {
  const out = await sfn.handle('StartExecution', {
    stateMachineArn: SM_ARN,
    name,
    input: JSON.stringify(input),
  });
  return out.executionArn as string;
}

interface Described {
  status: string;
  error?: string;
  cause?: string;
  redriveCount?: number;
  /** The parsed output (SUCCEEDED only). */
  output: unknown;
}

async function describeExecution(sfn: LocalStepFunctions, executionArn: string): Promise<Described> {
  const out = await sfn.handle('DescribeExecution', { executionArn });
  return {
    ...(out as Omit<Described, 'output'>),
    output: typeof out.output === 'string' ? JSON.parse(out.output) : undefined,
  };
}

async function serviceError(promise: Promise<unknown>): Promise<SfnServiceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof SfnServiceError)) throw new Error(`expected an SfnServiceError, got ${String(err)}`);
  return err;
}

function tokenOf(call: Call): string {
  const found = JSON.stringify(call.payload).match(/"token":"([^"]+)"/);
  if (!found?.[1]) throw new Error('no token in payload');
  return found[1];
}

/** A callback task waiting for a token, the way CDK's LambdaInvoke WAIT_FOR_TASK_TOKEN renders it. */
function approvalTask(extra: Record<string, unknown> = {}) {
  return {
    Type: 'Task',
    Resource: INVOKE_WAIT,
    Parameters: {
      FunctionName: fnArn('Notify'),
      Payload: { 'approval.$': '$.approval', callback: { 'token.$': '$$.Task.Token' } },
    },
    TimeoutSeconds: 30,
    ResultPath: '$.decision',
    ...extra,
  };
}

describe('LocalStepFunctions', () => {
  it('returns the lambda:invoke integration result shape and calls plain Lambda ARNs with the state input', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      {
        StartAt: 'Invoke',
        States: {
          Invoke: {
            Type: 'Task',
            Resource: INVOKE,
            Parameters: {
              FunctionName: fnArn('Echo'),
              Payload: {
                'task.$': '$.task',
                'executionId.$': '$$.Execution.Id',
                'executionName.$': '$$.Execution.Name',
                'stateMachine.$': '$$.StateMachine.Name',
                'state.$': '$$.State.Name',
              },
            },
            ResultPath: '$.invoked',
            Next: 'Plain',
          },
          Plain: { Type: 'Task', Resource: fnArn('Plain'), ResultPath: '$.plain', End: true },
        },
      },
      { Echo: (payload) => ({ echoed: payload }), Plain: (payload) => ({ sawTask: payload.task }) },
    );

    // Act
    const arn = await start(sfn, { task: 't-1' }, 'shape');
    await sfn.idle();

    // Assess
    const described = await describeExecution(sfn, arn);
    expect(described.status).toBe('SUCCEEDED');
    const payload = {
      task: 't-1',
      executionId: execArn('shape'),
      executionName: 'shape',
      stateMachine: 'Test',
      state: 'Invoke',
    };
    const invoked = {
      ExecutedVersion: '$LATEST',
      Payload: { echoed: payload },
      StatusCode: 200,
    };
    expect(described.output).toEqual({ task: 't-1', invoked, plain: { sawTask: 't-1' } });
    expect(lambdas.calls.map((c) => c.functionName)).toEqual(['Echo', 'Plain']);
    expect(lambdas.calls[1]?.payload).toEqual({ task: 't-1', invoked });
  });

  it('retries a Lambda error with its Retry policy, then Catch routes it with the AWS Error and Cause', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      {
        StartAt: 'RunAgent',
        States: {
          RunAgent: {
            Type: 'Task',
            Resource: INVOKE,
            Parameters: { FunctionName: fnArn('Agent'), 'Payload.$': '$' },
            Retry: [
              { ErrorEquals: ['Baton.AgentFailed'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 1 },
            ],
            Catch: [{ ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'Fallback' }],
            End: true,
          },
          Fallback: { Type: 'Pass', End: true },
        },
      },
      {
        Agent: () => {
          throw new LambdaError('Baton.AgentFailed', 'model overloaded');
        },
      },
    );

    // Act
    const arn = await start(sfn, { step: 's1' });
    await sfn.idle();

    // Assess
    expect(lambdas.count('Agent')).toBe(3);
    const described = await describeExecution(sfn, arn);
    expect(described.status).toBe('SUCCEEDED');
    expect(described.output).toEqual({
      step: 's1',
      error: {
        Error: 'Baton.AgentFailed',
        Cause: JSON.stringify({ errorType: 'Baton.AgentFailed', errorMessage: 'model overloaded' }),
      },
    });
    const history = (await sfn.handle('GetExecutionHistory', { executionArn: arn })).events as Array<{
      type: string;
    }>;
    expect(history.filter((e) => e.type === 'TaskFailed')).toHaveLength(3);
    expect(history.map((e) => e.type)).toContain('PassStateEntered');
  });

  it.each(['Baton.AgentFailed', 'States.ALL', 'States.TaskFailed'])(
    'Catch %s matches a Lambda error',
    async (matcher) => {
      // Prepare
      const { sfn } = await emulator(
        {
          StartAt: 'RunAgent',
          States: {
            RunAgent: {
              Type: 'Task',
              Resource: fnArn('Agent'),
              Catch: [
                { ErrorEquals: ['Some.OtherError'], Next: 'Wrong' },
                { ErrorEquals: [matcher], ResultPath: '$.error', Next: 'Caught' },
              ],
              End: true,
            },
            Wrong: { Type: 'Fail', Error: 'WrongCatcher' },
            Caught: { Type: 'Pass', End: true },
          },
        },
        {
          Agent: () => {
            throw new LambdaError('Baton.AgentFailed', 'no');
          },
        },
      );

      // Act
      const arn = await start(sfn, {});
      await sfn.idle();

      // Assess
      const described = await describeExecution(sfn, arn);
      expect(described.status).toBe('SUCCEEDED');
      expect(described.output).toMatchObject({ error: { Error: 'Baton.AgentFailed' } });
    },
  );

  it('fails the execution with the Lambda error when nothing catches it', async () => {
    // Prepare
    const { sfn } = await emulator(
      { StartAt: 'RunAgent', States: { RunAgent: { Type: 'Task', Resource: fnArn('Agent'), End: true } } },
      {
        Agent: () => {
          throw new LambdaError('Baton.NonRetryable', 'bad input');
        },
      },
    );

    // Act
    const arn = await start(sfn, {});
    await sfn.idle();

    // Assess
    const described = await describeExecution(sfn, arn);
    expect(described).toMatchObject({
      status: 'FAILED',
      error: 'Baton.NonRetryable',
      cause: JSON.stringify({ errorType: 'Baton.NonRetryable', errorMessage: 'bad input' }),
    });
  });

  it('runs Map iterations with ItemSelector and never more than MaxConcurrency at once', async () => {
    // Prepare
    let inFlight = 0;
    let maxInFlight = 0;
    const { sfn, lambdas } = await emulator(
      {
        StartAt: 'RunSteps',
        States: {
          RunSteps: {
            Type: 'Map',
            ItemsPath: '$.steps',
            MaxConcurrency: 2,
            ItemSelector: {
              'index.$': '$$.Map.Item.Index',
              'step.$': '$$.Map.Item.Value',
              'taskId.$': '$.taskId',
            },
            ItemProcessor: {
              ProcessorConfig: { Mode: 'INLINE' },
              StartAt: 'RunStep',
              States: {
                RunStep: {
                  Type: 'Task',
                  Resource: INVOKE,
                  Parameters: {
                    FunctionName: fnArn('Step'),
                    Payload: { 'item.$': '$', 'executionInput.$': '$$.Execution.Input' },
                  },
                  ResultSelector: { 'result.$': '$.Payload' },
                  End: true,
                },
              },
            },
            End: true,
          },
        },
      },
      {
        Step: async (payload) => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 30));
          inFlight -= 1;
          const item = payload.item as { index: number; step: { id: string } };
          return `${item.step.id}@${item.index}`;
        },
      },
    );
    const input = { taskId: 'task-1', steps: ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id })) };

    // Act
    const arn = await start(sfn, input);
    await sfn.idle();

    // Assess
    const described = await describeExecution(sfn, arn);
    expect(described.status).toBe('SUCCEEDED');
    expect(described.output).toEqual(['a@0', 'b@1', 'c@2', 'd@3', 'e@4'].map((result) => ({ result })));
    expect(maxInFlight).toBe(2);
    expect(lambdas.calls[0]?.payload).toEqual({
      item: { index: 0, step: { id: 'a' }, taskId: 'task-1' },
      executionInput: input,
    });
  });

  it('releases a waitForTaskToken task on SendTaskSuccess; the token then is closed', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      { StartAt: 'Approve', States: { Approve: { ...approvalTask(), End: true } } },
      { Notify: () => ({ sent: true }) },
    );
    const arn = await start(sfn, { approval: 'ap-1' });
    const notified = await lambdas.next('Notify');
    const token = tokenOf(notified);
    const running = await describeExecution(sfn, arn);

    // Act
    await sfn.handle('SendTaskSuccess', { taskToken: token, output: JSON.stringify({ approved: true }) });
    await sfn.idle();

    // Assess
    expect(running.status).toBe('RUNNING');
    expect(notified.payload).toEqual({ approval: 'ap-1', callback: { token } });
    const described = await describeExecution(sfn, arn);
    expect(described.status).toBe('SUCCEEDED');
    expect(described.output).toEqual({ approval: 'ap-1', decision: { approved: true } });
    const again = await serviceError(sfn.handle('SendTaskSuccess', { taskToken: token, output: '{}' }));
    expect(again.name).toBe('TaskTimedOut');
    const unknown = await serviceError(
      sfn.handle('SendTaskSuccess', { taskToken: 'not-a-token', output: '{}' }),
    );
    expect(unknown.name).toBe('InvalidToken');
  });

  it('issues a fresh token for every task entry, also inside Map iterations', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      {
        StartAt: 'Gates',
        States: {
          Gates: {
            Type: 'Map',
            ItemsPath: '$.approvals',
            ItemSelector: { 'approval.$': '$$.Map.Item.Value' },
            ItemProcessor: { StartAt: 'Approve', States: { Approve: { ...approvalTask(), End: true } } },
            End: true,
          },
        },
      },
      { Notify: () => null },
    );
    const arn = await start(sfn, { approvals: ['x', 'y', 'z'] });
    const calls = await Promise.all([lambdas.next('Notify'), lambdas.next('Notify'), lambdas.next('Notify')]);

    // Act
    for (const call of calls) {
      await sfn.handle('SendTaskSuccess', {
        taskToken: tokenOf(call),
        output: JSON.stringify({ by: call.payload.approval }),
      });
    }
    await sfn.idle();

    // Assess
    expect(new Set(calls.map(tokenOf)).size).toBe(3);
    const described = await describeExecution(sfn, arn);
    expect(described.output).toEqual(['x', 'y', 'z'].map((a) => ({ approval: a, decision: { by: a } })));
  });

  it('fails a waitForTaskToken task with the error and cause of SendTaskFailure', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      {
        StartAt: 'Approve',
        States: {
          Approve: {
            ...approvalTask({
              Catch: [{ ErrorEquals: ['Baton.Rejected'], ResultPath: '$.error', Next: 'Rejected' }],
            }),
            End: true,
          },
          Rejected: { Type: 'Pass', End: true },
        },
      },
      { Notify: () => ({}) },
    );
    const arn = await start(sfn, { approval: 'ap-2' });
    const token = tokenOf(await lambdas.next('Notify'));

    // Act
    await sfn.handle('SendTaskFailure', { taskToken: token, error: 'Baton.Rejected', cause: 'not today' });
    await sfn.idle();

    // Assess
    const described = await describeExecution(sfn, arn);
    expect(described.status).toBe('SUCCEEDED');
    expect(described.output).toMatchObject({ error: { Error: 'Baton.Rejected', Cause: 'not today' } });
  });

  it('fails a waitForTaskToken task when its Lambda invocation fails', async () => {
    // Prepare
    const { sfn } = await emulator(
      { StartAt: 'Approve', States: { Approve: { ...approvalTask(), End: true } } },
      {
        Notify: () => {
          throw new LambdaError('Baton.Unauthorized', 'mailer down');
        },
      },
    );

    // Act
    const arn = await start(sfn, { approval: 'ap-3' });
    await sfn.idle();

    // Assess
    expect(await describeExecution(sfn, arn)).toMatchObject({
      status: 'FAILED',
      error: 'Baton.Unauthorized',
    });
  });

  it('times out a token task after TimeoutSeconds with States.Timeout, which States.TaskFailed does not match', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      {
        StartAt: 'Approve',
        States: {
          Approve: {
            ...approvalTask({
              TimeoutSeconds: 1,
              Catch: [
                { ErrorEquals: ['States.TaskFailed'], Next: 'Wrong' },
                { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'Expired' },
              ],
            }),
            End: true,
          },
          Wrong: { Type: 'Fail', Error: 'WrongCatcher' },
          Expired: { Type: 'Pass', End: true },
        },
      },
      { Notify: () => ({}) },
    );

    // Act
    const arn = await start(sfn, { approval: 'ap-4' });
    const token = tokenOf(await lambdas.next('Notify'));
    await sfn.idle();

    // Assess
    const described = await describeExecution(sfn, arn);
    expect(described.status).toBe('SUCCEEDED');
    expect(described.output).toMatchObject({ error: { Error: 'States.Timeout' } });
    const late = await serviceError(sfn.handle('SendTaskSuccess', { taskToken: token, output: '{}' }));
    expect(late.name).toBe('TaskTimedOut');
  });

  it('enforces TimeoutSecondsPath (read from the state input) on a lambda:invoke task', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      {
        StartAt: 'RunAgent',
        States: {
          RunAgent: {
            Type: 'Task',
            Resource: INVOKE,
            TimeoutSecondsPath: '$.timeoutSeconds',
            Parameters: { FunctionName: fnArn('Hang'), Payload: { 'step.$': '$.step' } },
            End: true,
          },
        },
      },
      { Hang: () => new Promise(() => undefined) },
    );

    // Act
    const arn = await start(sfn, { step: 's9', timeoutSeconds: 1 });
    await sfn.idle();

    // Assess
    expect(await describeExecution(sfn, arn)).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
    expect(lambdas.calls[0]?.payload).toEqual({ step: 's9' });
  });

  it('fails a token task without heartbeats with States.HeartbeatTimeout and keeps one that heartbeats', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      {
        StartAt: 'Approve',
        States: {
          Approve: {
            ...approvalTask({
              HeartbeatSeconds: 1,
              Catch: [
                { ErrorEquals: ['States.TaskFailed'], Next: 'Wrong' },
                { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'Expired' },
              ],
            }),
            End: true,
          },
          Wrong: { Type: 'Fail', Error: 'WrongCatcher' },
          Expired: { Type: 'Pass', End: true },
        },
      },
      { Notify: () => ({}) },
    );
    const silent = await start(sfn, { approval: 'silent' }, 'silent');
    const beating = await start(sfn, { approval: 'beating' }, 'beating');
    const calls = [await lambdas.next('Notify'), await lambdas.next('Notify')];
    const beatingCall = calls.find((c) => c.payload.approval === 'beating');
    if (!beatingCall) throw new Error('no call for the beating execution');
    const token = tokenOf(beatingCall);

    // Act
    for (let beat = 0; beat < 6; beat += 1) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await sfn.handle('SendTaskHeartbeat', { taskToken: token });
    }
    await sfn.handle('SendTaskSuccess', { taskToken: token, output: '"ok"' });
    await sfn.idle();

    // Assess
    const silentDone = await describeExecution(sfn, silent);
    expect(silentDone.status).toBe('SUCCEEDED');
    expect(silentDone.output).toMatchObject({ error: { Error: 'States.HeartbeatTimeout' } });
    const beatingDone = await describeExecution(sfn, beating);
    expect(beatingDone.status).toBe('SUCCEEDED');
    expect(beatingDone.output).toMatchObject({ decision: 'ok' });
  });

  it('ends an execution that exceeds its top-level TimeoutSeconds as TIMED_OUT and closes its tokens', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      { TimeoutSeconds: 1, StartAt: 'Approve', States: { Approve: { ...approvalTask(), End: true } } },
      { Notify: () => ({}) },
    );

    // Act
    const arn = await start(sfn, { approval: 'ap-8' });
    const token = tokenOf(await lambdas.next('Notify'));
    await sfn.idle();

    // Assess
    expect(await describeExecution(sfn, arn)).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    const late = await serviceError(sfn.handle('SendTaskSuccess', { taskToken: token, output: '{}' }));
    expect(late.name).toBe('TaskTimedOut');
  });

  it('fails with States.DataLimitExceeded, which States.ALL cannot catch, when a Lambda returns over 256 KB', async () => {
    // Prepare
    const { sfn } = await emulator(
      {
        StartAt: 'RunAgent',
        States: {
          RunAgent: {
            Type: 'Task',
            Resource: fnArn('Big'),
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Pass', End: true },
        },
      },
      { Big: () => ({ text: 'x'.repeat(300 * 1024) }) },
    );

    // Act
    const arn = await start(sfn, {});
    await sfn.idle();

    // Assess
    expect(await describeExecution(sfn, arn)).toMatchObject({
      status: 'FAILED',
      error: 'States.DataLimitExceeded',
    });
  });

  it('StopExecution aborts the run: ABORTED, tokens invalidated, later states never run', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      {
        StartAt: 'Approve',
        States: {
          Approve: { ...approvalTask(), Next: 'After' },
          After: { Type: 'Task', Resource: fnArn('After'), End: true },
        },
      },
      { Notify: () => ({}), After: () => ({}) },
    );
    const arn = await start(sfn, { approval: 'ap-5' });
    const token = tokenOf(await lambdas.next('Notify'));

    // Act
    await sfn.handle('StopExecution', {
      executionArn: arn,
      error: 'Baton.Cancelled',
      cause: 'user cancelled',
    });
    await sfn.idle();

    // Assess
    expect(await describeExecution(sfn, arn)).toMatchObject({
      status: 'ABORTED',
      error: 'Baton.Cancelled',
      cause: 'user cancelled',
    });
    const late = await serviceError(sfn.handle('SendTaskSuccess', { taskToken: token, output: '{}' }));
    expect(late.name).toBe('TaskTimedOut');
    expect(lambdas.count('After')).toBe(0);
    const listed = await sfn.handle('ListExecutions', { stateMachineArn: SM_ARN, statusFilter: 'ABORTED' });
    expect((listed.executions as Array<{ executionArn: string }>).map((e) => e.executionArn)).toEqual([arn]);
  });

  it('persists executions and re-runs the interrupted ones after the process is killed (kill -9)', async () => {
    // Prepare
    const dataDir = await tempDir();
    const definition = {
      StartAt: 'Prepare',
      States: {
        Prepare: { Type: 'Pass', Result: 'prepared', ResultPath: '$.prepared', Next: 'Approve' },
        Approve: { ...approvalTask(), End: true },
      },
    };
    const script = `
      const { LocalStepFunctions } = await import(process.env.EMULATOR_URL);
      const sfn = new LocalStepFunctions({
        dataDir: process.env.DATA_DIR,
        invokeLambda: async (_name, payload) => { process.stdout.write('INVOKED ' + payload.callback.token + '\\n'); return {}; },
      });
      sfn.registerStateMachine(process.env.SM_ARN, JSON.parse(process.env.DEFINITION));
      await sfn.handle('StartExecution', { stateMachineArn: process.env.SM_ARN, name: 'crash-me', input: '{"approval":"ap-6"}' });
      setInterval(() => {}, 60_000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        EMULATOR_URL: new URL('../../lib/local/sfn/index.ts', import.meta.url).href,
        DATA_DIR: dataDir,
        SM_ARN,
        DEFINITION: JSON.stringify(definition),
      },
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const oldToken = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /INVOKED (\S+)\n/.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    // Act
    const { sfn, lambdas } = await emulator(definition, { Notify: () => ({}) }, dataDir);
    const before = await describeExecution(sfn, execArn('crash-me'));
    const resumed = await sfn.resumeInterrupted();
    const token = tokenOf(await lambdas.next('Notify'));
    const stale = await serviceError(sfn.handle('SendTaskSuccess', { taskToken: oldToken, output: '{}' }));
    await sfn.handle('SendTaskSuccess', { taskToken: token, output: '{"approved":true}' });
    await sfn.idle();

    // Assess
    expect(before.status).toBe('RUNNING');
    expect(resumed).toEqual([execArn('crash-me')]);
    expect(stale.name).toBe('InvalidToken');
    expect(token).not.toBe(oldToken);
    const described = await describeExecution(sfn, execArn('crash-me'));
    expect(described).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(described.output).toEqual({
      approval: 'ap-6',
      prepared: 'prepared',
      decision: { approved: true },
    });
    const history = (await sfn.handle('GetExecutionHistory', { executionArn: execArn('crash-me') }))
      .events as Array<{
      type: string;
    }>;
    expect(history.map((e) => e.type)).toContain('ExecutionRedriven');
    expect(history.at(-1)?.type).toBe('ExecutionSucceeded');
    expect((await readdir(path.join(dataDir, 'executions'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const third = new LocalStepFunctions({ dataDir, invokeLambda: lambdas.invoke });
    cleanups.push(() => third.close());
    expect(await describeExecution(third, execArn('crash-me'))).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('serves the AWS SDK SFNClient over HTTP (awsJson1_0), including service errors', async () => {
    // Prepare
    const { sfn, lambdas } = await emulator(
      { StartAt: 'Approve', States: { Approve: { ...approvalTask(), End: true } } },
      { Notify: () => ({}) },
    );
    const server = await sfn.listen(0);
    cleanups.push(() => server.close());
    const client = new SFNClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    cleanups.push(async () => client.destroy());

    // Act
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: SM_ARN, name: 'via-http', input: '{"approval":"ap-7"}' }),
    );
    const running = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    const token = tokenOf(await lambdas.next('Notify'));
    await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"approved":false}' }));
    await sfn.idle();
    const done = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    const duplicate = await client
      .send(
        new StartExecutionCommand({
          stateMachineArn: SM_ARN,
          name: 'via-http',
          input: '{"approval":"other"}',
        }),
      )
      .catch((err: unknown) => err);
    const badToken = await client
      .send(new SendTaskSuccessCommand({ taskToken: 'bogus', output: '{}' }))
      .catch((err: unknown) => err);

    // Assess
    expect(started.executionArn).toBe(execArn('via-http'));
    expect(started.startDate).toBeInstanceOf(Date);
    expect(running.status).toBe('RUNNING');
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? 'null')).toEqual({ approval: 'ap-7', decision: { approved: false } });
    expect(done.stopDate).toBeInstanceOf(Date);
    expect(duplicate).toBeInstanceOf(ExecutionAlreadyExists);
    expect((duplicate as Error).name).toBe('ExecutionAlreadyExists');
    expect((badToken as Error).name).toBe('InvalidToken');
  });

  it('answers StartExecution idempotently for the same name and input while RUNNING, like Standard workflows', async () => {
    // Prepare
    const { sfn } = await emulator(
      { StartAt: 'Approve', States: { Approve: { ...approvalTask(), End: true } } },
      { Notify: () => ({}) },
    );
    const first = await sfn.handle('StartExecution', {
      stateMachineArn: SM_ARN,
      name: 'same',
      input: '{"approval":"a"}',
    });

    // Act
    const second = await sfn.handle('StartExecution', {
      stateMachineArn: SM_ARN,
      name: 'same',
      input: '{"approval":"a"}',
    });
    const different = await serviceError(
      sfn.handle('StartExecution', { stateMachineArn: SM_ARN, name: 'same', input: '{"approval":"b"}' }),
    );
    const missing = await serviceError(sfn.handle('DescribeExecution', { executionArn: execArn('nope') }));

    // Assess
    expect(second).toEqual(first);
    expect(different.name).toBe('ExecutionAlreadyExists');
    expect(missing.name).toBe('ExecutionDoesNotExist');
  });

  it('refuses definitions the local engine cannot run faithfully', async () => {
    // Prepare
    const dataDir = await tempDir();
    const sfn = new LocalStepFunctions({ dataDir, invokeLambda: async () => null });
    cleanups.push(() => sfn.close());

    // Act
    const register = (definition: object) => () => sfn.registerStateMachine(SM_ARN, definition);

    // Assess
    expect(register({ StartAt: 'A', States: { A: { Type: 'Pass', Assign: { x: 1 }, End: true } } })).toThrow(
      SfnServiceError,
    );
    expect(register({ StartAt: 'A', States: { A: { Type: 'Nope', End: true } } })).toThrow(/invalid/);
  });
});
