/** Step Functions calls our Lambdas make: start executions, answer task tokens. */
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { BatonError, ErrorNames } from '../core/errors.js';

/** Errors that mean "this token was already answered or is gone": a duplicate callback, not a fault. */
const STALE_TOKEN_ERRORS = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

export class WorkflowError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.WorkflowError;
  }
}

export class WorkflowClient {
  /**
   * `stateMachineArn`: needed to start executions and name their ARNs (the intake worker, the
   * API); the functions the state machine calls only answer tokens and are not given it.
   */
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn?: string,
  ) {}

  private machine(): string {
    if (!this.stateMachineArn)
      throw new WorkflowError('This function is not given the state machine ARN (STATE_MACHINE_ARN)');
    return this.stateMachineArn;
  }

  static executionName(taskId: string, run: number): string {
    return `${taskId}-r${run}`;
  }

  /** The ARN of a run's execution (Standard workflows: execution ARNs derive from the state machine's). */
  executionArn(taskId: string, run: number): string {
    return `${this.machine().replace(':stateMachine:', ':execution:')}:${WorkflowClient.executionName(taskId, run)}`;
  }

  /**
   * Starts the run's execution; an execution of the same name already running counts as started.
   * `traceHeader`: the X-Ray trace the execution continues (StartExecution's traceHeader).
   */
  async start(
    taskId: string,
    run: number,
    input: unknown,
    traceHeader?: string,
  ): Promise<{ executionArn?: string; alreadyStarted: boolean }> {
    try {
      const res = await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.machine(),
          name: WorkflowClient.executionName(taskId, run),
          input: JSON.stringify(input),
          ...(traceHeader ? { traceHeader } : {}),
        }),
      );
      return { executionArn: res.executionArn, alreadyStarted: false };
    } catch (err) {
      if ((err as Error).name === 'ExecutionAlreadyExists') return { alreadyStarted: true };
      throw new WorkflowError(`Could not start the execution of task ${taskId}`, { cause: err });
    }
  }

  async stop(executionArn: string, cause: string): Promise<void> {
    try {
      await this.sfn.send(new StopExecutionCommand({ executionArn, cause, error: ErrorNames.Cancelled }));
    } catch (err) {
      if ((err as Error).name === 'ExecutionDoesNotExist') return;
      throw new WorkflowError(`Could not stop ${executionArn}`, { cause: err });
    }
  }

  /** Answers a task token. Returns false when the token was already answered (duplicate callback). */
  async succeed(token: string, output: unknown): Promise<boolean> {
    try {
      await this.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
      return true;
    } catch (err) {
      if (STALE_TOKEN_ERRORS.has((err as Error).name)) return false;
      throw new WorkflowError('Could not resume a waiting step', { cause: err });
    }
  }

  async fail(token: string, error: string, cause: string): Promise<boolean> {
    try {
      await this.sfn.send(
        new SendTaskFailureCommand({ taskToken: token, error, cause: cause.slice(0, 32_000) }),
      );
      return true;
    } catch (err) {
      if (STALE_TOKEN_ERRORS.has((err as Error).name)) return false;
      throw new WorkflowError('Could not fail a waiting step', { cause: err });
    }
  }
}
