/**
 * Guards lib/local/sfn/library-errors.ts: what the local Step Functions rely on in
 * aws-local-stepfunctions beyond its documented API. Each test runs the library itself (no
 * emulator around it), so it fails when an upgrade changes the behaviour underneath.
 */
import {
  ExecutionError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import {
  findLibraryTimeoutErrorClass,
  TaskFailedError,
  TerminalTaskError,
  TimeoutErrors,
} from '../../lib/local/sfn/library-errors.js';

type Handler = () => Promise<never>;

/** One Task state `Work` with the given Retry/Catch, whose handler throws `error`; `Caught` echoes the catch output. */
async function runFailingTask(
  error: () => Error,
  rules: { Retry?: unknown[]; Catch?: unknown[] },
): Promise<{ attempts: number; output?: unknown; failure?: Error }> {
  const definition = {
    StartAt: 'Work',
    States: {
      Work: {
        Type: 'Task',
        Resource: 'arn:aws:lambda:us-east-1:123456789012:function:work',
        ...rules,
        End: true,
      },
      Caught: { Type: 'Pass', End: true },
    },
  };
  const machine = new StateMachine(definition as unknown as StateMachineDefinition, {
    validationOptions: { noValidate: true },
  });
  let attempts = 0;
  const work: Handler = async () => {
    attempts += 1;
    throw error();
  };
  const options: RunOptions = {
    overrides: { taskResourceLocalHandlers: { Work: work }, retryIntervalOverrides: { Work: 0 } },
  };
  try {
    const output = await machine.run({}, options).result;
    return { attempts, output };
  } catch (err) {
    return {
      attempts,
      failure: err instanceof ExecutionError && err.cause instanceof Error ? err.cause : (err as Error),
    };
  }
}

const TASK_FAILED_FIRST = {
  Retry: [{ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 2 }],
  Catch: [
    { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.wrong', Next: 'Caught' },
    { ErrorEquals: ['States.Timeout', 'States.HeartbeatTimeout'], ResultPath: '$.timeout', Next: 'Caught' },
  ],
};

describe('aws-local-stepfunctions behaviour that lib/local/sfn/library-errors.ts relies on', () => {
  it('times out a Task with an error class of its own, which a no-argument constructor recreates', async () => {
    // Act
    const errorClass = await findLibraryTimeoutErrorClass();

    // Assess
    expect(errorClass).toBeTypeOf('function');
    expect(errorClass).not.toBe(Error);
    expect(errorClass ? new errorClass().name : undefined).toBe('States.Timeout');
  });

  it.each(['States.Timeout', 'States.HeartbeatTimeout'] as const)(
    'does not match %s made by TimeoutErrors with States.TaskFailed, and matches it by name',
    async (name) => {
      // Prepare
      const timeouts = new TimeoutErrors();
      expect(await timeouts.prepare()).toBe(true);

      // Act
      const result = await runFailingTask(() => timeouts.create(name, 'too slow'), TASK_FAILED_FIRST);

      // Assess
      expect(result.attempts).toBe(1);
      expect(result.output).toEqual({ timeout: { Error: name, Cause: 'too slow' } });
    },
  );

  it('matches a plain Error named States.Timeout with States.TaskFailed (why TimeoutErrors exists)', async () => {
    // Act
    const result = await runFailingTask(
      () => Object.assign(new Error('too slow'), { name: 'States.Timeout' }),
      TASK_FAILED_FIRST,
    );

    // Assess: if this starts failing, the library matches timeouts by name and TimeoutErrors can go.
    expect(result.attempts).toBe(3);
    expect(result.output).toEqual({ wrong: { Error: 'States.Timeout', Cause: 'too slow' } });
  });

  it('takes a thrown error name as Error and its message as Cause', async () => {
    // Act
    const result = await runFailingTask(() => new TaskFailedError('Baton.AgentFailed', '{"errorType":"x"}'), {
      Catch: [{ ErrorEquals: ['Baton.AgentFailed'], ResultPath: '$.error', Next: 'Caught' }],
    });

    // Assess
    expect(result.output).toEqual({ error: { Error: 'Baton.AgentFailed', Cause: '{"errorType":"x"}' } });
  });

  it('neither retries nor catches an error whose isRetryable and isCatchable are false, not even with States.ALL', async () => {
    // Act
    const result = await runFailingTask(() => new TerminalTaskError('States.Runtime', 'broken'), {
      Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 2 }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
    });

    // Assess
    expect(result.attempts).toBe(1);
    expect(result.failure).toMatchObject({ name: 'States.Runtime', message: 'broken' });
  });
});
