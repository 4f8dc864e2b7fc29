/**
 * The Baton state machine, defined once. `cdk deploy` ships it; local mode runs the same
 * definition, read back from the synthesized template.
 *
 *   Plan ─▶ [RequestPlanApproval] ─▶ RunSteps (Map, items in topological order) ─▶ Finalize (ends it) | ─▶ Fail
 *     per step: AwaitDependencies (.waitForTaskToken) ─▶ [RequestApproval] ─▶ RunAgent (per-step timeout;
 *               the step runner completes the step) ■;   RunAgent errors ─▶ RecordAttemptFailure ─▶ Backoff ─▶ RunAgent
 *                                                   ─▶ RunFallback ─▶ [RequestReview]
 * Every approval gate is a .waitForTaskToken state with TimeoutSecondsPath; whatever ends it
 * other than an approval (a rejection, the timeout, a failure) is caught into ResolveApproval,
 * which reads the decision from the store and says what comes next.
 *
 * The parts are builders, each in its own module: `ApprovalGate` (approval-gate.ts),
 * `StepIteration` (step-iteration.ts) with its `RetryLoop` (retry-loop.ts), `Finalization`
 * (finalize.ts). Every Lambda state's Payload and ResultSelector is built from the function's
 * contract in lambdas/core/states.ts (contract.ts, lambda-task.ts).
 */
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { PlanContract } from '../../lambdas/core/states.js';
import { ApprovalGate } from './approval-gate.js';
import { equals, mapItem, payload, StepIteration as StepIterationState, task, taskRef } from './contract.js';
import { Finalization } from './finalize.js';
import { LambdaTask } from './lambda-task.js';
import { STATE } from './names.js';
import { StepIteration } from './step-iteration.js';

export { LAMBDA_TASK_TIMEOUT } from './lambda-task.js';
export { STATE } from './names.js';

export interface WorkflowFunctions {
  planner: IFunction;
  gate: IFunction;
  stepFailed: IFunction;
  finalize: IFunction;
  requestApproval: IFunction;
  resolveApproval: IFunction;
  /** Runs every agent attempt (RunAgent, RunFallback) on the step's agent function. */
  stepRunner: IFunction;
  /** Fan-out steps (fan-out.ts): PrepareItems, the item runner, ItemsFailed, CollectItems. */
  prepareItems: IFunction;
  itemRunner: IFunction;
  itemsFailed: IFunction;
  collectItems: IFunction;
}

export function buildDefinition(scope: Construct, fns: WorkflowFunctions): sfn.IChainable {
  const ending = new Finalization(scope, 'Ending', { finalize: fns.finalize });
  const onError = { errors: ['States.ALL'], resultPath: task.at('error').path };

  const plan = new LambdaTask(scope, STATE.plan, {
    fn: fns.planner,
    contract: PlanContract,
    payload: { ...taskRef },
    result: { at: task.at('plan') },
  });
  plan.addCatch(ending.afterError, onError);

  const planned = task.at('plan');
  const runSteps = new sfn.Map(scope, STATE.runSteps, {
    itemsPath: planned.at('items').path,
    itemSelector: payload(StepIterationState, {
      taskId: taskRef.taskId,
      run: taskRef.run,
      stepId: mapItem.at('stepId'),
      agentFunction: mapItem.at('agentFunction'),
      timeoutSeconds: mapItem.at('timeoutSeconds'),
      attempt: mapItem.at('firstAttempt'),
      approval: mapItem.at('approval'),
      forEach: mapItem.at('forEach'),
      dependsOn: mapItem.at('dependsOn'),
      waitRecorded: mapItem.at('waitRecorded'),
      approvalTimeoutSeconds: mapItem.at('approvalTimeoutSeconds'),
      dependencyTimeoutSeconds: mapItem.at('dependencyTimeoutSeconds'),
    }),
    maxConcurrencyPath: planned.at('maxConcurrency').path,
    resultPath: sfn.JsonPath.DISCARD,
  });
  runSteps.itemProcessor(new StepIteration(scope, 'Step', { functions: fns }));
  runSteps.addCatch(ending.afterError, onError);

  // Plan gate (policy.requirePlanApproval): approve runs the steps; a rejection or a timeout fails the task.
  const planNotApproved = new sfn.Pass(scope, STATE.planNotApproved, {
    inputPath: task.at('approvalResolution').at('error').path,
    resultPath: task.at('error').path,
  }).next(ending.afterError);
  const planGate = new ApprovalGate(scope, 'PlanGate', {
    kind: 'plan',
    functions: { request: fns.requestApproval, resolve: fns.resolveApproval },
    names: {
      request: STATE.requestPlanApproval,
      resolve: STATE.resolvePlanApproval,
      after: STATE.afterPlanApproval,
    },
    timeoutSeconds: planned.at('approvalTimeoutSeconds'),
    proceed: { action: 'run', next: runSteps },
    otherwise: planNotApproved,
  });
  planGate.resolve.addCatch(ending.afterError, onError);

  runSteps.next(ending);
  plan.next(
    new sfn.Choice(scope, STATE.planApproval)
      .when(equals(planned.at('requireApproval'), true), planGate)
      .otherwise(runSteps),
  );
  return plan;
}

/** Error names the definition relies on, exported for the CDK assertion tests. */
export const DEFINITION_ERRORS = { nonRetryable: ErrorNames.NonRetryable };
