/**
 * The two ways the definition calls a Lambda, both built from its contract (lambdas/core/states.ts):
 * `LambdaTask` (an orchestrator function known at synth) and `AgentTask` (the step runner, which
 * runs the step's own agent function named in the Map item).
 */
import { Aws, Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { z } from 'zod';
import { WORKFLOW_TIMING } from '../../lambdas/core/bounds.js';
import { LAMBDA_SERVICE_ERRORS } from '../../lambdas/core/errors.js';
import { AgentContract, type AgentResult } from '../../lambdas/core/states.js';
import { AGENT_RESULT_KEYS, type PayloadOf, payload, type Ref, selectResult } from './contract.js';

/**
 * Orchestrator Lambdas are short; a stuck invocation fails the state instead of waiting. (A parked
 * step's dependency wait is the Map item's dependencyTimeoutSeconds: lambdas/core/bounds.ts.)
 */
export const LAMBDA_TASK_TIMEOUT = sfn.Timeout.duration(Duration.seconds(WORKFLOW_TIMING.lambdaTaskSeconds));

/** Where a task keeps what it selected from its Lambda's output. */
export interface ResultOf<O extends z.ZodObject, K extends keyof z.output<O> & string> {
  /** The Lambda's output schema. */
  output: O;
  /** The fields kept (default: all of the output schema's). */
  keys?: readonly K[];
  /** Where in the state they go: a slot whose schema holds exactly the kept fields. */
  at: { readonly path: string; readonly value: Pick<z.output<O>, K> };
}

export interface LambdaTaskProps<
  I extends z.ZodObject,
  O extends z.ZodObject,
  K extends keyof z.output<O> & string,
> {
  /** The function the state invokes. */
  fn: IFunction;
  /** The function's contract (its input schema types the payload). */
  contract: { input: I; output: O };
  /** The payload: the input schema's keys, paths of the matching types or constants. */
  payload: PayloadOf<I>;
  /** Keep (part of) the output at a path; default: the output is discarded (the state's input passes on). */
  result?: Omit<ResultOf<O, K>, 'output'>;
  /** Wait for a task token (`.waitForTaskToken`) instead of the Lambda's response. Default false. */
  waitForTaskToken?: boolean;
  /** Where a task-token callback's output goes (waitForTaskToken only); default discarded. */
  callbackResultPath?: string;
  /** Default LAMBDA_TASK_TIMEOUT. */
  timeout?: sfn.Timeout;
}

/** A LambdaInvoke whose Payload and ResultSelector come from the function's contract. */
export class LambdaTask<
  I extends z.ZodObject,
  O extends z.ZodObject,
  K extends keyof z.output<O> & string = keyof z.output<O> & string,
> extends tasks.LambdaInvoke {
  constructor(scope: Construct, id: string, props: LambdaTaskProps<I, O, K>) {
    const { result } = props;
    super(scope, id, {
      lambdaFunction: props.fn,
      ...(props.waitForTaskToken ? { integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN } : {}),
      payload: sfn.TaskInput.fromObject(payload(props.contract.input, props.payload)),
      ...(result ? { resultSelector: selectResult(props.contract.output, result.keys) } : {}),
      resultPath: result ? result.at.path : (props.callbackResultPath ?? sfn.JsonPath.DISCARD),
      taskTimeout: props.timeout ?? LAMBDA_TASK_TIMEOUT,
    });
  }
}

export interface AgentTaskProps {
  /** The step runner (lambdas/agents/runner.ts): the only function that invokes agent functions. */
  runner: IFunction;
  /** The agent invocation (AgentInvocation): `agentFunction` names the step's agent function. */
  payload: PayloadOf<typeof AgentContract.input>;
  /** The step's own timeout. */
  timeoutSecondsPath: Ref<z.ZodNumber>;
  /** Where the agent's result (its attempt) goes. */
  resultAt: { readonly path: string; readonly value: Pick<AgentResult, (typeof AGENT_RESULT_KEYS)[number]> };
  /**
   * The state ends its branch (the step runner completed the step) and outputs nothing: a Map
   * iteration's output would be collected into the Map's result, held in the execution's state.
   */
  endsBranch?: boolean;
}

/**
 * Runs one attempt on the step runner, which invokes the agent function the payload names: a
 * CustomState for the step's own timeout (TimeoutSecondsPath). Lambda service faults (not the
 * agent's own errors) are retried with AWS's recommended retrier; everything else is the
 * caller's Catch.
 */
export class AgentTask extends sfn.CustomState {
  constructor(scope: Construct, id: string, props: AgentTaskProps) {
    super(scope, id, {
      stateJson: {
        Type: 'Task',
        // The stack's partition (aws, aws-cn, aws-us-gov), as LambdaInvoke's own Resource.
        Resource: `arn:${Aws.PARTITION}:states:::lambda:invoke`,
        Parameters: {
          FunctionName: props.runner.functionArn,
          Payload: sfn.FieldUtils.renderObject(payload(AgentContract.input, props.payload)),
        },
        TimeoutSecondsPath: props.timeoutSecondsPath.path,
        ResultSelector: selectResult(AgentContract.output, AGENT_RESULT_KEYS),
        ResultPath: props.resultAt.path,
        ...(props.endsBranch ? { OutputPath: null } : {}),
      },
    });
    this.addRetry({
      errors: LAMBDA_SERVICE_ERRORS,
      interval: Duration.seconds(WORKFLOW_TIMING.serviceRetry.intervalSeconds),
      maxAttempts: WORKFLOW_TIMING.serviceRetry.maxAttempts,
      backoffRate: WORKFLOW_TIMING.serviceRetry.backoffRate,
      jitterStrategy: sfn.JitterType.FULL,
    });
  }
}
