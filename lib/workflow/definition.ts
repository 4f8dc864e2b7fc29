/**
 * The Baton state machine, defined once. `cdk deploy` ships it; local mode runs the same
 * definition, read back from the synthesized template.
 *
 *   Plan ─▶ RunSteps (Map, items in topological order) ─▶ Finalize ─▶ Succeed | Fail
 *     per step: AwaitDependencies (.waitForTaskToken) ─▶ RunAgent (per-step timeout)
 *               ─▶ CompleteStep;   RunAgent errors ─▶ RecordAttemptFailure ─▶ Backoff ─▶ RunAgent
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
}

/** A parked step waits at most this long for its dependencies: no execution can hang forever. */
export const GATE_TIMEOUT = Duration.hours(24);
/** Orchestrator Lambdas are short; a stuck invocation fails the state instead of waiting. */
export const LAMBDA_TASK_TIMEOUT = sfn.Timeout.duration(Duration.seconds(60));

/** State names are part of the contract with the local runtime and with operators' dashboards. */
export const STATE = {
  plan: 'Plan',
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

const ref = { taskId: sfn.JsonPath.stringAt('$.taskId'), run: sfn.JsonPath.numberAt('$.run') };
const stepRef = { ...ref, stepId: sfn.JsonPath.stringAt('$.stepId'), attempt: sfn.JsonPath.numberAt('$.attempt') };

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
    resultSelector: { 'items.$': '$.Payload.items', 'maxConcurrency.$': '$.Payload.maxConcurrency' },
    resultPath: '$.plan',
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  });
  plan.addCatch(finalizeAfterError, { errors: ['States.ALL'], resultPath: '$.error' });

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
    resultPath: sfn.JsonPath.DISCARD,
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  }).next(stepDone);
  runFallback.addCatch(fallbackFailed, { errors: ['States.ALL'], resultPath: '$.error' });

  const recordAttemptFailure = new tasks.LambdaInvoke(scope, STATE.recordAttemptFailure, {
    lambdaFunction: fns.stepFailed,
    payload: sfn.TaskInput.fromObject({ ...stepRef, error: sfn.JsonPath.objectAt('$.error') }),
    resultSelector: {
      'retry.$': '$.Payload.retry',
      'waitSeconds.$': '$.Payload.waitSeconds',
      'nextAttempt.$': '$.Payload.nextAttempt',
      'useFallback.$': '$.Payload.useFallback',
      'fallback.$': '$.Payload.fallback',
    },
    resultPath: '$.retry',
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  });
  // Per-step retries (each step has its own maxAttempts / interval / backoff, which a static
  // Retry field cannot express) are this visible loop: record, wait, run the next attempt.
  const backoff = new sfn.Wait(scope, STATE.backoff, { time: sfn.WaitTime.secondsPath('$.retry.waitSeconds') });
  const nextAttempt = new sfn.Pass(scope, STATE.nextAttempt, { inputPath: '$.retry.nextAttempt', resultPath: '$.attempt' });
  runAgent.addCatch(recordAttemptFailure, {
    errors: ['States.ALL'],
    resultPath: '$.error',
  });

  const completeStep = new tasks.LambdaInvoke(scope, STATE.completeStep, {
    lambdaFunction: fns.complete,
    // The attempt that produced the result: the agent's or the fallback's.
    payload: sfn.TaskInput.fromObject({ ...stepRef, attempt: sfn.JsonPath.numberAt('$.agentResult.attempt') }),
    resultPath: sfn.JsonPath.DISCARD,
    taskTimeout: LAMBDA_TASK_TIMEOUT,
  });

  const iteration = awaitDependencies.next(
    new sfn.Choice(scope, STATE.proceed)
      .when(sfn.Condition.stringEquals('$.gate.action', 'run'), runAgent.next(completeStep).next(stepDone))
      .otherwise(stepDone),
  );
  recordAttemptFailure.next(
    new sfn.Choice(scope, STATE.retryOrGiveUp)
      .when(sfn.Condition.booleanEquals('$.retry.retry', true), backoff.next(nextAttempt).next(runAgent))
      .when(sfn.Condition.booleanEquals('$.retry.useFallback', true), runFallback.next(completeStep))
      .otherwise(stepDone),
  );

  const runSteps = new sfn.Map(scope, STATE.runSteps, {
    itemsPath: '$.plan.items',
    itemSelector: {
      taskId: sfn.JsonPath.stringAt('$.taskId'),
      run: sfn.JsonPath.numberAt('$.run'),
      stepId: sfn.JsonPath.stringAt('$$.Map.Item.Value.stepId'),
      agentFunction: sfn.JsonPath.stringAt('$$.Map.Item.Value.agentFunction'),
      timeoutSeconds: sfn.JsonPath.numberAt('$$.Map.Item.Value.timeoutSeconds'),
      attempt: sfn.JsonPath.numberAt('$$.Map.Item.Value.firstAttempt'),
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

  return plan
    .next(runSteps)
    .next(finalize)
    .next(
      new sfn.Choice(scope, STATE.outcome)
        .when(sfn.Condition.stringEquals('$.outcome.status', 'FAILED'), taskFailed)
        .otherwise(new sfn.Succeed(scope, STATE.taskSucceeded)),
    );
}

/** Error names the definition relies on, exported for the CDK assertion tests. */
export const DEFINITION_ERRORS = { nonRetryable: ErrorNames.NonRetryable };
