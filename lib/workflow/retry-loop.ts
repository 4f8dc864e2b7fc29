/**
 * What happens after a failed attempt: per-step retries (each step has its own maxAttempts /
 * interval / backoff, which a static Retry field cannot express) as a visible loop, then the
 * step's fallback agent, then (policy) a human review, else the step is done (failed).
 *
 *   RunAgent ──(Catch)──▶ RecordAttemptFailure ─▶ RetryOrGiveUp? ── retry ─▶ Backoff ─▶ NextAttempt ─▶ RunAgent
 *                                                               ├─ useFallback ─▶ RunFallback ■ (the runner completes the step)
 *                                                               ├─ review ─▶ onReview
 *                                                               └─ otherwise ─▶ onGiveUp
 *   RunFallback ──(Catch)──▶ FallbackFailed ─▶ RetryOrGiveUp?
 */
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { AttemptFailureContract } from '../../lambdas/core/states.js';
import { equals, step, stepRef } from './contract.js';
import { AgentTask, LambdaTask } from './lambda-task.js';
import { STATE } from './names.js';

export interface RetryLoopProps {
  /** The StepFailed function (RecordAttemptFailure, FallbackFailed). */
  stepFailed: IFunction;
  /** The step runner (RunFallback). */
  stepRunner: IFunction;
  /** The step's agent attempt; its failures are caught into the loop. */
  runAgent: AgentTask;
  /** Where a step goes for a human review (the review gate). */
  onReview: sfn.IChainable;
  /** Where a step goes when nothing is left to try (it was failed by StepFailed). */
  onGiveUp: sfn.IChainable;
}

export class RetryLoop extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[] = [];

  constructor(scope: Construct, id: string, props: RetryLoopProps) {
    super(scope, id);
    const retry = step.at('retry');
    // What StepFailed decides after a failed attempt (or fallback) is kept at `$.retry`.
    const runFallback = new AgentTask(this, STATE.runFallback, {
      runner: props.stepRunner,
      payload: {
        agentFunction: retry.at('fallback').at('function'),
        ...stepRef,
        attempt: retry.at('nextAttempt'),
        failure: retry.at('fallback').at('failure'),
      },
      timeoutSecondsPath: step.at('timeoutSeconds'),
      resultAt: step.at('agentResult'),
      // The step runner completes the step after a successful fallback too.
      endsBranch: true,
    });
    const fallbackFailed = new LambdaTask(this, STATE.fallbackFailed, {
      fn: props.stepFailed,
      contract: AttemptFailureContract,
      payload: {
        ...stepRef,
        attempt: retry.at('nextAttempt'),
        error: step.at('error'),
        phase: 'fallback',
      },
      // The decision after a failed fallback: fail the step, or (policy) a human review.
      result: { at: retry },
    });
    runFallback.addCatch(fallbackFailed, { errors: ['States.ALL'], resultPath: step.at('error').path });

    const recordAttemptFailure = new LambdaTask(this, STATE.recordAttemptFailure, {
      fn: props.stepFailed,
      contract: AttemptFailureContract,
      payload: {
        ...stepRef,
        attempt: step.at('attempt'),
        error: step.at('error'),
      },
      result: { at: retry },
    });
    const backoff = new sfn.Wait(this, STATE.backoff, {
      time: sfn.WaitTime.secondsPath(retry.at('waitSeconds').path),
    });
    const nextAttempt = new sfn.Pass(this, STATE.nextAttempt, {
      inputPath: retry.at('nextAttempt').path,
      resultPath: step.at('attempt').path,
    });
    props.runAgent.addCatch(recordAttemptFailure, {
      errors: ['States.ALL'],
      resultPath: step.at('error').path,
    });

    const decided = (flag: 'retry' | 'useFallback' | 'review') => equals(retry.at(flag), true);
    const retryOrGiveUp = new sfn.Choice(this, STATE.retryOrGiveUp)
      .when(decided('retry'), backoff.next(nextAttempt).next(props.runAgent))
      .when(decided('useFallback'), runFallback)
      .when(decided('review'), props.onReview)
      .otherwise(props.onGiveUp);
    recordAttemptFailure.next(retryOrGiveUp);
    fallbackFailed.next(retryOrGiveUp);
    this.startState = recordAttemptFailure;
  }
}
