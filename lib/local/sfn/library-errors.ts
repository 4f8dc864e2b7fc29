/**
 * How errors thrown by our Task handlers reach aws-local-stepfunctions' Retry and Catch: the one
 * module that relies on the library beyond its documented API (`StateMachine`, `RunOptions`,
 * `ExecutionError`/`ExecutionAbortedError`/`ExecutionTimeoutError`). Three things, each guarded
 * by test/unit/local-sfn-library.test.ts, which fails if the library changes underneath them:
 *
 * 1. A handler's rejection becomes the state's error with `name` as Error and `message` as Cause.
 * 2. An error whose `isRetryable`/`isCatchable` are false is neither retried nor caught (not even
 *    by States.ALL): the library reads those two properties of whatever a handler throws.
 * 3. States.TaskFailed does not match task timeouts, as in AWS. The library tells timeouts apart
 *    with `instanceof` against its own, unexported timeout error class; no public API raises it.
 *    `TimeoutErrors` finds that class the public way (a 1 ms probe Task times out and the class of
 *    `ExecutionError.cause` is it) and creates our timeouts as instances of it. Nothing of the
 *    library is modified, and nothing is kept beyond the `TimeoutErrors` instance.
 */
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';

/**
 * A failed Task as the state machine sees it: aws-local-stepfunctions takes `name` as the Error
 * and `message` as the Cause, so `message` (and `cause`) hold the AWS Cause text.
 */
export class TaskFailedError extends Error {
  constructor(error: string, cause: string) {
    super(cause, { cause });
    this.name = error;
  }
}

/** Neither retried nor caught (not even by States.ALL): States.Runtime, States.DataLimitExceeded. */
export class TerminalTaskError extends TaskFailedError {
  get isRetryable(): boolean {
    return false;
  }
  get isCatchable(): boolean {
    return false;
  }
}

/** Thrown into a task whose execution has been stopped, so the library's background work ends. */
export class ExecutionEndedError extends TerminalTaskError {
  constructor() {
    super('Baton.ExecutionEnded', 'The execution has ended');
  }
}

/** States.HeartbeatTimeout is a timeout too: ErrorEquals "States.Timeout" matches it in AWS (see definition.ts). */
export type TimeoutErrorName = 'States.Timeout' | 'States.HeartbeatTimeout';

type TimeoutErrorClass = new () => Error;

/** Lets a 1 ms Task time out in a throw-away machine and returns the class of the library's timeout error. */
export async function findLibraryTimeoutErrorClass(): Promise<TimeoutErrorClass | undefined> {
  const probe = new StateMachine(
    {
      StartAt: 'Probe',
      States: {
        Probe: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:us-east-1:123456789012:function:probe',
          TimeoutSeconds: 0.001,
          End: true,
        },
      },
    },
    { validationOptions: { noValidate: true } },
  );
  let timer: NodeJS.Timeout | undefined;
  const slow = () => new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 50)));
  try {
    await probe.run(null, { overrides: { taskResourceLocalHandlers: { Probe: slow } } }).result;
  } catch (err) {
    const timeout = err instanceof ExecutionError ? err.cause : undefined;
    if (timeout instanceof Error && timeout.name === 'States.Timeout') {
      const errorClass: unknown = timeout.constructor;
      if (typeof errorClass === 'function' && errorClass !== Error) {
        const candidate = errorClass as TimeoutErrorClass;
        if (new candidate().name === 'States.Timeout') return candidate;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  return undefined;
}

/** Creates States.Timeout and States.HeartbeatTimeout errors the library treats as its own timeouts. */
export class TimeoutErrors {
  private discovery: Promise<TimeoutErrorClass | undefined> | undefined;
  private errorClass: TimeoutErrorClass | undefined;

  /**
   * Finds the library's class (once per instance). Resolves false when it cannot: our timeouts
   * are then plain errors, which States.TaskFailed also matches.
   */
  async prepare(): Promise<boolean> {
    this.discovery ??= findLibraryTimeoutErrorClass();
    this.errorClass = await this.discovery;
    return this.errorClass !== undefined;
  }

  create(name: TimeoutErrorName, message: string): Error {
    const error = this.errorClass ? new this.errorClass() : new Error();
    error.name = name;
    error.message = message;
    return error;
  }
}
