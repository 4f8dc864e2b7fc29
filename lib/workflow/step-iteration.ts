/**
 * One step's iteration of the RunSteps Map:
 *
 *   AwaitDependencies (.waitForTaskToken, the item's dependencyTimeoutSeconds)
 *     ├─ released: run ─▶ RunAgent (the step runner runs the agent and completes the step) ■
 *     ├─ route Baton.Gate.Approval ─▶ [step approval gate] ─▶ RunAgent
 *     ├─ route Baton.Gate.FanOut ─▶ the fan-out (its items as a Distributed Map) ─▶ StepDone
 *     ├─ route Baton.Gate.FanOutApproval ─▶ [approval gate] ─▶ the fan-out
 *     ├─ route Baton.Gate.NotRun (skipped, done before) ─▶ StepDone
 *     └─ any other failure ─▶ GateFailed (the step fails) ─▶ StepDone
 *   RunAgent failures ─▶ the retry loop (retries, fallback, [review gate]) ─▶ RunAgent | RunFallback ■ | StepDone
 *
 * A step's happy path is two states (AwaitDependencies, RunAgent): whoever releases the gate
 * answers its token with success only for a step that simply runs, and with its route's task
 * failure otherwise (lambdas/core/states.ts gateRoute), caught into the route's first state, so
 * no Choice state follows the gate; and the step runner completes the step (its StepSucceeded and
 * result, its dependents' gates) as part of the attempt, so no CompleteStep state follows it
 * (test/cdk/stack.test.ts counts them).
 */
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { AttemptFailureContract, GateContract } from '../../lambdas/core/states.js';
import { ApprovalGate } from './approval-gate.js';
import { step, stepRef, TASK_TOKEN } from './contract.js';
import { FanOut, type FanOutFunctions } from './fan-out.js';
import { AgentTask, LambdaTask } from './lambda-task.js';
import { STATE } from './names.js';
import { RetryLoop } from './retry-loop.js';

export interface StepIterationProps {
  functions: {
    /** AwaitDependencies. */
    gate: IFunction;
    /** RecordAttemptFailure, FallbackFailed, GateFailed. */
    stepFailed: IFunction;
    /** RunAgent and RunFallback. */
    stepRunner: IFunction;
    /** The step's approval gate and review gate. */
    requestApproval: IFunction;
    resolveApproval: IFunction;
  } & FanOutFunctions;
}

export class StepIteration extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[] = [];

  constructor(scope: Construct, id: string, props: StepIterationProps) {
    super(scope, id);
    const fns = props.functions;
    // The iteration outputs nothing: the Map collects each iteration's output (an array held in the
    // execution's state, capped at 256 KB), and the store, not the state, holds what a step did.
    const stepDone = new sfn.Succeed(this, STATE.stepDone, { outputPath: sfn.JsonPath.DISCARD });

    const awaitDependencies = new LambdaTask(this, STATE.awaitDependencies, {
      fn: fns.gate,
      contract: GateContract,
      waitForTaskToken: true,
      payload: {
        ...stepRef,
        taskToken: TASK_TOKEN,
        // This definition catches the gate's routes (below): releasers answer with them.
        routes: true,
        // What the gate decides with, from the Map item: it needs no plan to park or to run.
        dependsOn: step.at('dependsOn'),
        approval: step.at('approval'),
        forEach: step.at('forEach'),
        waitRecorded: step.at('waitRecorded'),
      },
      // Bounded by what the dependencies can take (lambdas/core/bounds.ts), not a constant.
      timeout: sfn.Timeout.at(step.at('dependencyTimeoutSeconds').path),
      callbackResultPath: step.at('gate').path,
    });
    const gateFailed = new LambdaTask(this, STATE.gateFailed, {
      fn: fns.stepFailed,
      contract: AttemptFailureContract,
      payload: {
        ...stepRef,
        attempt: step.at('attempt'),
        error: step.at('error'),
        phase: 'gate',
      },
    }).next(stepDone);

    // RunAgent: the step runner runs the step's own agent function, named in the Map item.
    const runAgent = new AgentTask(this, STATE.runAgent, {
      runner: fns.stepRunner,
      payload: {
        agentFunction: step.at('agentFunction'),
        ...stepRef,
        attempt: step.at('attempt'),
        // How the gate ended (every way into RunAgent passes it): a release may carry the step's
        // StepStarted number, reserved by its releaser.
        gate: step.at('gate'),
      },
      timeoutSecondsPath: step.at('timeoutSeconds'),
      resultAt: step.at('agentResult'),
      endsBranch: true,
    });
    const gateFns = { request: fns.requestApproval, resolve: fns.resolveApproval };

    // Review gate (policy.humanReviewOnFailure): accept a replacement output, retry once more, or fail.
    const review = new ApprovalGate(this, 'ReviewGate', {
      kind: 'review',
      functions: gateFns,
      names: {
        request: STATE.requestReview,
        resolve: STATE.resolveReview,
        decided: STATE.reviewDecided,
        after: STATE.afterReview,
      },
      timeoutSeconds: step.at('approvalTimeoutSeconds'),
      proceed: {
        action: 'retry',
        next: new sfn.Pass(this, STATE.reviewRetry, {
          inputPath: step.at('retry').at('nextAttempt').path,
          resultPath: step.at('attempt').path,
        }).next(runAgent),
      },
      otherwise: stepDone,
    });

    // Step gate: approve runs the agent; anything else is resolved (reject/timeout fail the step).
    const approval = new ApprovalGate(this, 'ApprovalGate', {
      kind: 'step',
      functions: gateFns,
      names: { request: STATE.requestApproval, resolve: STATE.resolveApproval, after: STATE.afterApproval },
      timeoutSeconds: step.at('approvalTimeoutSeconds'),
      proceed: { action: 'run', next: runAgent },
      otherwise: stepDone,
    });

    // A fan-out step (forEach): its items run as a Distributed Map, after its own approval gate.
    const fanOut = new FanOut(this, 'FanOut', { functions: fns, done: stepDone });
    const fanOutApproval = new ApprovalGate(this, 'ItemsApprovalGate', {
      kind: 'step',
      functions: gateFns,
      names: {
        request: STATE.requestItemsApproval,
        resolve: STATE.resolveItemsApproval,
        after: STATE.afterItemsApproval,
      },
      timeoutSeconds: step.at('approvalTimeoutSeconds'),
      proceed: { action: 'run', next: fanOut },
      otherwise: stepDone,
    });

    // A released gate of a step that simply runs goes on to RunAgent; every other way out is a
    // route, its token's task failure by the route's name (lambdas/core/states.ts gateRoute),
    // caught into the route's first state. No Choice on any step's path. The routes are caught
    // before anything else (GateFailed: States.ALL, added last).
    awaitDependencies.next(runAgent);
    const routes: [string, sfn.IChainable][] = [
      [ErrorNames.GateNotRun, stepDone],
      [ErrorNames.GateApproval, approval],
      [ErrorNames.GateFanOut, fanOut],
      [ErrorNames.GateFanOutApproval, fanOutApproval],
    ];
    for (const [name, next] of routes)
      awaitDependencies.addCatch(next, { errors: [name], resultPath: step.at('gate').path });
    awaitDependencies.addCatch(gateFailed, { errors: ['States.ALL'], resultPath: step.at('error').path });
    // Built last: the order states are wired in decides their order in the ASL (kept as it was).
    new RetryLoop(this, 'Attempts', {
      stepFailed: fns.stepFailed,
      stepRunner: fns.stepRunner,
      runAgent,
      onReview: review,
      onGiveUp: stepDone,
    });
    this.startState = awaitDependencies;
  }
}
