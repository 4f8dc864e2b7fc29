/**
 * How a task ends:
 *
 *   Finalize ─▶ Outcome? ── FAILED ─▶ TaskFailed
 *                        └─ otherwise ─▶ TaskSucceeded (SUCCEEDED, DEGRADED, CANCELLED)
 *   FinalizeAfterError (whatever failed the execution, recorded) ─▶ TaskFailed
 * Finalize's own failure is caught into FinalizeAfterError, so a task never ends unrecorded.
 */
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { FinalizeContract } from '../../lambdas/core/states.js';
import { equals, task, taskRef } from './contract.js';
import { LambdaTask } from './lambda-task.js';
import { STATE } from './names.js';

export interface FinalizationProps {
  /** The Finalize function (Finalize, FinalizeAfterError). */
  finalize: IFunction;
}

export class Finalization extends sfn.StateMachineFragment {
  /** Finalize: the start of the normal ending. */
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[] = [];
  /** FinalizeAfterError: the target of every top-level Catch (`$.error` holds the failure). */
  readonly afterError: sfn.TaskStateBase;

  constructor(scope: Construct, id: string, props: FinalizationProps) {
    super(scope, id);
    const taskFailed = new sfn.Fail(this, STATE.taskFailed, {
      error: ErrorNames.TaskFailed,
      cause: 'The task failed; see its events for why.',
    });
    this.afterError = new LambdaTask(this, STATE.finalizeAfterError, {
      fn: props.finalize,
      contract: FinalizeContract,
      payload: { ...taskRef, error: task.at('error') },
    });
    this.afterError.next(taskFailed);

    const finalize = new LambdaTask(this, STATE.finalize, {
      fn: props.finalize,
      contract: FinalizeContract,
      payload: { ...taskRef },
      result: { at: task.at('outcome') },
    });
    finalize.addCatch(this.afterError, { errors: ['States.ALL'], resultPath: task.at('error').path });
    finalize.next(
      new sfn.Choice(this, STATE.outcome)
        .when(equals(task.at('outcome').at('status'), 'FAILED'), taskFailed)
        .otherwise(new sfn.Succeed(this, STATE.taskSucceeded)),
    );
    this.startState = finalize;
  }
}
