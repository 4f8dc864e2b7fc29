/**
 * How a task ends:
 *
 *   Finalize (.waitForTaskToken) ── its token succeeded ─▶ (end: SUCCEEDED, DEGRADED, CANCELLED)
 *                                └─ failed with Baton.TaskFailed ─▶ TaskFailed
 *   FinalizeAfterError (whatever failed the execution, recorded) ─▶ TaskFailed
 * Finalize answers its own token (lambdas/orchestrator/lifecycle.ts finalizeTask): a FAILED task
 * fails it with Baton.TaskFailed, which the first Catch leads to the Fail state. So a task that
 * succeeds ends in one state, not three (no Outcome Choice, no Succeed state), and a failed one
 * ends FAILED without Finalize throwing (a Lambda error, which the error alarms would count).
 * Finalize's own failure is caught into FinalizeAfterError, so a task never ends unrecorded.
 */
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { FinalizeContract, TASK_FAILED_CAUSE } from '../../lambdas/core/states.js';
import { TASK_TOKEN, task, taskRef } from './contract.js';
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
      cause: TASK_FAILED_CAUSE,
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
      waitForTaskToken: true,
      payload: { ...taskRef, taskToken: TASK_TOKEN },
      callbackResultPath: task.at('outcome').path,
    });
    // The task failed (Finalize said so): the Fail state. Anything else that failed Finalize: FinalizeAfterError.
    finalize.addCatch(taskFailed, { errors: [ErrorNames.TaskFailed], resultPath: sfn.JsonPath.DISCARD });
    finalize.addCatch(this.afterError, { errors: ['States.ALL'], resultPath: task.at('error').path });
    this.startState = finalize;
  }
}
