/**
 * The Baton state machine, defined once. `cdk deploy` ships it; local mode runs the same
 * definition, read back from the synthesized template.
 *
 *   Plan ─▶ [RequestPlanApproval] ─▶ RunSteps (Map, items in topological order) ─▶ Finalize ─▶ Succeed | Fail
 *     per step: AwaitDependencies (.waitForTaskToken) ─▶ [RequestApproval] ─▶ RunAgent (per-step timeout)
 *               ─▶ CompleteStep;   RunAgent errors ─▶ RecordAttemptFailure ─▶ Backoff ─▶ RunAgent
 *                                                   ─▶ RunFallback ─▶ [RequestReview]
 * Every approval gate is a .waitForTaskToken state with TimeoutSecondsPath; whatever ends it
 * other than an approval (a rejection, the timeout, a failure) is caught into ResolveApproval,
 * which reads the decision from the store and says what comes next.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { ErrorNames, LAMBDA_SERVICE_ERRORS } from '../../lambdas/core/errors.js';

export interface WorkflowFunctions {
  planner: IFunction;
  gate: IFunction;
  stepFailed: IFunction;
  complete: IFunction;
  finalize: IFunction;
  requestApproval: IFunction;
  resolveApproval: IFunction;
}

/** A parked step waits at most this long for its dependencies: no execution can hang forever. */
export const GATE_TIMEOUT = Duration.hours(24);
/** Orchestrator Lambdas are short; a stuck invocation fails the state instead of waiting. */
export const LAMBDA_TASK_TIMEOUT = sfn.Timeout.duration(Duration.seconds(60));

/** State names are part of the contract with the local runtime and with operators' dashboards. */
export const STATE = {
  plan: 'Plan',
  planApproval: 'PlanApproval?',
  requestPlanApproval: 'RequestPlanApproval',
  resolvePlanApproval: 'ResolvePlanApproval',
  afterPlanApproval: 'AfterPlanApproval?',
  planNotApproved: 'PlanNotApproved',
  requestApproval: 'RequestApproval',
  resolveApproval: 'ResolveApproval',
  afterApproval: 'AfterApproval?',
  requestReview: 'RequestReview',
  reviewDecided: 'ReviewDecided',
  resolveReview: 'ResolveReview',
  afterReview: 'AfterReview?',
  reviewRetry: 'ReviewRetry',
  runSteps: 'RunSteps',
  awaitDependencies: 'AwaitDependencies',
  proceed: 'Proceed?',
  runAgent: 'RunAgent',
  recordAttemptFailure: 'RecordAttemptFailure',
  retryOrGiveUp: 'RetryOrGiveUp?',
  backoff: 'Backoff',
  nextAttempt: 'NextAttempt',
  completeStep: 'CompleteStep',
  runFallback: 'RunFallback',
  fallbackFailed: 'FallbackFailed',
  gateFailed: 'GateFailed',
  stepDone: 'StepDone',
  finalize: 'Finalize',
  outcome: 'Outcome?',
  finalizeAfterError: 'FinalizeAfterError',
  taskSucceeded: 'TaskSucceeded',
  taskFailed: 'TaskFailed',
} as const;

/** What StepFailed decides after a failed attempt (or fallback), kept at `$.retry`. */
const ATTEMPT_DECISION = {
  'retry.$': '$.Payload.retry',
  'waitSeconds.$': '$.Payload.waitSeconds',
  'nextAttempt.$': '$.Payload.nextAttempt',
  'useFallback.$': '$.Payload.useFallback',
  'fallback.$': '$.Payload.fallback',
  'review.$': '$.Payload.review',
};

const ref = { taskId: sfn.JsonPath.stringAt('$.taskId'), run: sfn.JsonPath.numberAt('$.run') };
const stepRef = {
  ...ref,
  stepId: sfn.JsonPath.stringAt('$.stepId'),
  attempt: sfn.JsonPath.numberAt('$.attempt'),
};

export function buildDefinition(scope: Construct, fns: WorkflowFunctions): sfn.IChainable {
  const taskFailed = new sfn.Fail(scope, STATE.taskFailed, {
    error: 'Baton.TaskFailed',
    cause: 'The task failed; see its events for why.',
  });
  const finalizeAfterError = new tasks.LambdaInvoke(scope, STATE.finalizeAfterError, {
    lambdaFunction: fns.finalize,
    payload: sfn.TaskInput.fromObject({ ...ref, error: sfn.JsonPath.objectAt('$.error') }),
    resultPath: sfn.JsonPath.DISCARD,
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  }).next(taskFailed);

  const plan = new tasks.LambdaInvoke(scope, STATE.plan, {
    lambdaFunction: fns.planner,
    payload: sfn.TaskInput.fromObject(ref),
    resultSelector: {
      'items.$': '$.Payload.items',
      'maxConcurrency.$': '$.Payload.maxConcurrency',
      'requireApproval.$': '$.Payload.requireApproval',
      'approvalTimeoutSeconds.$': '$.Payload.approvalTimeoutSeconds',
    },
    resultPath: '$.plan',
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  });
  plan.addCatch(finalizeAfterError, { errors: ['States.ALL'], resultPath: '$.error' });

  // ---- approval gates: request (.waitForTaskToken, bounded by the gate's own timeout) and resolve
  const gateRef = (kind: 'plan' | 'step' | 'review') => ({
    ...ref,
    kind,
    ...(kind === 'plan' ? {} : { stepId: sfn.JsonPath.stringAt('$.stepId') }),
    ...(kind === 'review' ? { attempt: sfn.JsonPath.numberAt('$.retry.nextAttempt') } : {}),
  });
  const requestGate = (id: string, kind: 'plan' | 'step' | 'review', timeoutPath: string) =>
    new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fns.requestApproval,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        ...gateRef(kind),
        ...(kind === 'review' ? { error: sfn.JsonPath.objectAt('$.error') } : {}),
        taskToken: sfn.JsonPath.taskToken,
      }),
      taskTimeout: sfn.Timeout.at(timeoutPath),
      resultPath: sfn.JsonPath.DISCARD,
    });
  const resolveGate = (id: string, kind: 'plan' | 'step' | 'review', caught: boolean) =>
    new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fns.resolveApproval,
      payload: sfn.TaskInput.fromObject({
        ...gateRef(kind),
        ...(caught ? { error: sfn.JsonPath.objectAt('$.approvalError') } : {}),
      }),
      resultSelector: { 'action.$': '$.Payload.action', 'error.$': '$.Payload.error' },
      resultPath: '$.approvalResolution',
      taskTimeout: LAMBDA_TASK_TIMEOUT,
    });
  const gateCatch = { errors: ['States.ALL'], resultPath: '$.approvalError' };
  const resolved = (action: string) => sfn.Condition.stringEquals('$.approvalResolution.action', action);

  // ---- one step's iteration
  const stepDone = new sfn.Succeed(scope, STATE.stepDone);
  const awaitDependencies = new tasks.LambdaInvoke(scope, STATE.awaitDependencies, {
    lambdaFunction: fns.gate,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({
      ...ref,
      stepId: sfn.JsonPath.stringAt('$.stepId'),
      taskToken: sfn.JsonPath.taskToken,
    }),
    taskTimeout: sfn.Timeout.duration(GATE_TIMEOUT),
    resultPath: '$.gate',
  });
  const gateFailed = new tasks.LambdaInvoke(scope, STATE.gateFailed, {
    lambdaFunction: fns.stepFailed,
    payload: sfn.TaskInput.fromObject({ ...stepRef, error: sfn.JsonPath.objectAt('$.error'), phase: 'gate' }),
    resultPath: sfn.JsonPath.DISCARD,
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  }).next(stepDone);
  awaitDependencies.addCatch(gateFailed, { errors: ['States.ALL'], resultPath: '$.error' });

  // RunAgent invokes the step's own agent function, named in the Map item: a CustomState
  // because LambdaInvoke needs the function at synth time. RunFallback is the same call to the
  // step's fallback agent, with the primary agent's failure in its input.
  const agentTask = (id: string, functionPath: string, payload: Record<string, unknown>) => {
    const state = new sfn.CustomState(scope, id, {
      stateJson: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { 'FunctionName.$': functionPath, Payload: payload },
        TimeoutSecondsPath: '$.timeoutSeconds',
        ResultSelector: { 'attempt.$': '$.Payload.attempt' },
        ResultPath: '$.agentResult',
      },
    });
    // Lambda service faults (not the agent's own errors): AWS's recommended retrier.
    state.addRetry({
      errors: LAMBDA_SERVICE_ERRORS,
      interval: Duration.seconds(1),
      maxAttempts: 3,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    return state;
  };
  const runAgent = agentTask(STATE.runAgent, '$.agentFunction', {
    'taskId.$': '$.taskId',
    'run.$': '$.run',
    'stepId.$': '$.stepId',
    'attempt.$': '$.attempt',
  });
  const runFallback = agentTask(STATE.runFallback, '$.retry.fallback.function', {
    'taskId.$': '$.taskId',
    'run.$': '$.run',
    'stepId.$': '$.stepId',
    'attempt.$': '$.retry.nextAttempt',
    'failure.$': '$.retry.fallback.failure',
  });
  const fallbackFailed = new tasks.LambdaInvoke(scope, STATE.fallbackFailed, {
    lambdaFunction: fns.stepFailed,
    payload: sfn.TaskInput.fromObject({
      ...ref,
      stepId: sfn.JsonPath.stringAt('$.stepId'),
      attempt: sfn.JsonPath.numberAt('$.retry.nextAttempt'),
      error: sfn.JsonPath.objectAt('$.error'),
      phase: 'fallback',
    }),
    // The decision after a failed fallback: fail the step, or (policy) a human review.
    resultSelector: ATTEMPT_DECISION,
    resultPath: '$.retry',
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  });
  runFallback.addCatch(fallbackFailed, { errors: ['States.ALL'], resultPath: '$.error' });

  const recordAttemptFailure = new tasks.LambdaInvoke(scope, STATE.recordAttemptFailure, {
    lambdaFunction: fns.stepFailed,
    payload: sfn.TaskInput.fromObject({ ...stepRef, error: sfn.JsonPath.objectAt('$.error') }),
    resultSelector: ATTEMPT_DECISION,
    resultPath: '$.retry',
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  });
  // Per-step retries (each step has its own maxAttempts / interval / backoff, which a static
  // Retry field cannot express) are this visible loop: record, wait, run the next attempt.
  const backoff = new sfn.Wait(scope, STATE.backoff, {
    time: sfn.WaitTime.secondsPath('$.retry.waitSeconds'),
  });
  const nextAttempt = new sfn.Pass(scope, STATE.nextAttempt, {
    inputPath: '$.retry.nextAttempt',
    resultPath: '$.attempt',
  });
  runAgent.addCatch(recordAttemptFailure, {
    errors: ['States.ALL'],
    resultPath: '$.error',
  });

  const completeStep = new tasks.LambdaInvoke(scope, STATE.completeStep, {
    lambdaFunction: fns.complete,
    // The attempt that produced the result: the agent's or the fallback's.
    payload: sfn.TaskInput.fromObject({
      ...stepRef,
      attempt: sfn.JsonPath.numberAt('$.agentResult.attempt'),
    }),
    resultPath: sfn.JsonPath.DISCARD,
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  });

  // Step gate: approve runs the agent; anything else is resolved (reject/timeout fail the step).
  const requestApproval = requestGate(STATE.requestApproval, 'step', '$.approvalTimeoutSeconds');
  const resolveApproval = resolveGate(STATE.resolveApproval, 'step', true);
  requestApproval.addCatch(resolveApproval, gateCatch);

  // Review gate (policy.humanReviewOnFailure): accept a replacement output, retry once more, or fail.
  const requestReview = requestGate(STATE.requestReview, 'review', '$.approvalTimeoutSeconds');
  const reviewDecided = resolveGate(STATE.reviewDecided, 'review', false);
  const resolveReview = resolveGate(STATE.resolveReview, 'review', true);
  requestReview.addCatch(resolveReview, gateCatch);
  const reviewRetry = new sfn.Pass(scope, STATE.reviewRetry, {
    inputPath: '$.retry.nextAttempt',
    resultPath: '$.attempt',
  });
  const afterReview = new sfn.Choice(scope, STATE.afterReview)
    .when(resolved('retry'), reviewRetry.next(runAgent))
    .when(resolved('escalate'), requestReview)
    .otherwise(stepDone);
  requestReview.next(reviewDecided).next(afterReview);
  resolveReview.next(afterReview);

  const iteration = awaitDependencies.next(
    new sfn.Choice(scope, STATE.proceed)
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals('$.gate.action', 'run'),
          sfn.Condition.booleanEquals('$.approval', true),
        ),
        requestApproval,
      )
      .when(sfn.Condition.stringEquals('$.gate.action', 'run'), runAgent.next(completeStep).next(stepDone))
      .otherwise(stepDone),
  );
  requestApproval.next(runAgent);
  resolveApproval.next(
    new sfn.Choice(scope, STATE.afterApproval)
      .when(resolved('run'), runAgent)
      .when(resolved('escalate'), requestApproval)
      .otherwise(stepDone),
  );
  const retryOrGiveUp = new sfn.Choice(scope, STATE.retryOrGiveUp)
    .when(sfn.Condition.booleanEquals('$.retry.retry', true), backoff.next(nextAttempt).next(runAgent))
    .when(sfn.Condition.booleanEquals('$.retry.useFallback', true), runFallback.next(completeStep))
    .when(sfn.Condition.booleanEquals('$.retry.review', true), requestReview)
    .otherwise(stepDone);
  recordAttemptFailure.next(retryOrGiveUp);
  fallbackFailed.next(retryOrGiveUp);

  const runSteps = new sfn.Map(scope, STATE.runSteps, {
    itemsPath: '$.plan.items',
    itemSelector: {
      taskId: sfn.JsonPath.stringAt('$.taskId'),
      run: sfn.JsonPath.numberAt('$.run'),
      stepId: sfn.JsonPath.stringAt('$$.Map.Item.Value.stepId'),
      agentFunction: sfn.JsonPath.stringAt('$$.Map.Item.Value.agentFunction'),
      timeoutSeconds: sfn.JsonPath.numberAt('$$.Map.Item.Value.timeoutSeconds'),
      attempt: sfn.JsonPath.numberAt('$$.Map.Item.Value.firstAttempt'),
      approval: sfn.JsonPath.stringAt('$$.Map.Item.Value.approval'),
      approvalTimeoutSeconds: sfn.JsonPath.numberAt('$$.Map.Item.Value.approvalTimeoutSeconds'),
    },
    maxConcurrencyPath: '$.plan.maxConcurrency',
    resultPath: sfn.JsonPath.DISCARD,
  });
  runSteps.itemProcessor(iteration);
  runSteps.addCatch(finalizeAfterError, { errors: ['States.ALL'], resultPath: '$.error' });

  const finalize = new tasks.LambdaInvoke(scope, STATE.finalize, {
    lambdaFunction: fns.finalize,
    payload: sfn.TaskInput.fromObject(ref),
    resultSelector: { 'status.$': '$.Payload.status' },
    resultPath: '$.outcome',
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  });
  finalize.addCatch(finalizeAfterError, { errors: ['States.ALL'], resultPath: '$.error' });

  // Plan gate (policy.requirePlanApproval): approve runs the steps; a rejection or a timeout fails the task.
  const requestPlanApproval = requestGate(STATE.requestPlanApproval, 'plan', '$.plan.approvalTimeoutSeconds');
  const resolvePlanApproval = resolveGate(STATE.resolvePlanApproval, 'plan', true);
  requestPlanApproval.addCatch(resolvePlanApproval, gateCatch);
  resolvePlanApproval.addCatch(finalizeAfterError, { errors: ['States.ALL'], resultPath: '$.error' });
  const planNotApproved = new sfn.Pass(scope, STATE.planNotApproved, {
    inputPath: '$.approvalResolution.error',
    resultPath: '$.error',
  }).next(finalizeAfterError);
  requestPlanApproval.next(runSteps);
  resolvePlanApproval.next(
    new sfn.Choice(scope, STATE.afterPlanApproval)
      .when(resolved('run'), runSteps)
      .when(resolved('escalate'), requestPlanApproval)
      .otherwise(planNotApproved),
  );

  runSteps
    .next(finalize)
    .next(
      new sfn.Choice(scope, STATE.outcome)
        .when(sfn.Condition.stringEquals('$.outcome.status', 'FAILED'), taskFailed)
        .otherwise(new sfn.Succeed(scope, STATE.taskSucceeded)),
    );
  plan.next(
    new sfn.Choice(scope, STATE.planApproval)
      .when(sfn.Condition.booleanEquals('$.plan.requireApproval', true), requestPlanApproval)
      .otherwise(runSteps),
  );
  return plan;
}

/** Error names the definition relies on, exported for the CDK assertion tests. */
export const DEFINITION_ERRORS = { nonRetryable: ErrorNames.NonRetryable };
