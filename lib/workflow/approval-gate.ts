/**
 * An approval gate: RequestApproval parks on a task token (bounded by the gate's own timeout);
 * whatever ends it other than an approval (a rejection, the timeout, a failure) is caught into
 * ResolveApproval, which reads the decision from the store and says what comes next:
 *
 *   request ──(approved)──▶ proceed                       (plan, step gates)
 *   request ──(decided)───▶ decided ─▶ after?             (review gates: approve, retry)
 *   request ──(Catch)─────▶ resolve ─▶ after? ── <proceed action> ─▶ proceed
 *                                            ├─ escalate ─▶ request (a second round)
 *                                            └─ otherwise ─▶ otherwise
 */
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { ApprovalKind } from '../../lambdas/core/approvals.js';
import {
  type ApprovalRequest,
  type ApprovalResolution,
  RequestApprovalContract,
  ResolveApprovalContract,
  type ResolvedAction,
} from '../../lambdas/core/states.js';
import { equals, executionTraceId, type PayloadOf, type Ref, step, TASK_TOKEN, task } from './contract.js';
import { LambdaTask } from './lambda-task.js';

export interface ApprovalGateProps {
  /** Which gate: plan (after Plan), step (before a step's agent), review (after a step failed). */
  kind: ApprovalKind;
  /** RequestApproval and ResolveApproval. */
  functions: { request: IFunction; resolve: IFunction };
  /**
   * State names: the request, the resolution after a Catch, the resolution after a decided
   * review (review gates only: their token succeeds for approve and retry alike), the Choice.
   */
  names: { request: string; resolve: string; decided?: string; after: string };
  /** Path to the gate's timeout in seconds (TimeoutSecondsPath). */
  timeoutSeconds: Ref<z.ZodNumber>;
  /** What lets the work go on ('run' for plan and step gates, 'retry' for review gates), and where to. */
  proceed: { action: Extract<ResolvedAction, 'run' | 'retry'>; next: sfn.IChainable };
  /** Where every other resolution goes (the step is done; the plan failed). */
  otherwise: sfn.IChainable;
}

/** Where a gate reads its references and keeps its Catch and resolution: top level (plan) or a step's state. */
function slotsOf(kind: ApprovalKind) {
  return kind === 'plan'
    ? {
        taskId: task.at('taskId'),
        run: task.at('run'),
        approvalError: task.at('approvalError'),
        approvalResolution: task.at('approvalResolution'),
      }
    : {
        taskId: step.at('taskId'),
        run: step.at('run'),
        approvalError: step.at('approvalError'),
        approvalResolution: step.at('approvalResolution'),
      };
}

/** The gate's references: plan gates name no step; review gates carry the attempt a retry runs. */
function gateRef(kind: ApprovalKind): PayloadOf<typeof ApprovalResolution> {
  const { taskId, run } = slotsOf(kind);
  const base = { taskId, run, kind, traceId: executionTraceId };
  if (kind === 'plan') return base;
  if (kind === 'step') return { ...base, stepId: step.at('stepId') };
  return { ...base, stepId: step.at('stepId'), attempt: step.at('retry').at('nextAttempt') };
}

function requestPayload(kind: ApprovalKind): PayloadOf<typeof ApprovalRequest> {
  return {
    ...gateRef(kind),
    ...(kind === 'review' ? { error: step.at('error') } : {}),
    taskToken: TASK_TOKEN,
  };
}

export class ApprovalGate extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[] = [];
  /** RequestApproval: the `.waitForTaskToken` state. */
  readonly request: LambdaTask<typeof ApprovalRequest, typeof RequestApprovalContract.output>;
  /** ResolveApproval after the request's Catch (callers add their own Catch to it). */
  readonly resolve: LambdaTask<typeof ApprovalResolution, typeof ResolveApprovalContract.output>;

  constructor(scope: Construct, id: string, props: ApprovalGateProps) {
    super(scope, id);
    const { kind, names } = props;
    const slots = slotsOf(kind);
    this.request = new LambdaTask(this, names.request, {
      fn: props.functions.request,
      contract: RequestApprovalContract,
      waitForTaskToken: true,
      payload: requestPayload(kind),
      timeout: sfn.Timeout.at(props.timeoutSeconds.path),
    });
    const resolve = (name: string, caught: boolean) =>
      new LambdaTask(this, name, {
        fn: props.functions.resolve,
        contract: ResolveApprovalContract,
        payload: { ...gateRef(kind), ...(caught ? { error: slots.approvalError } : {}) },
        result: { at: slots.approvalResolution },
      });
    const resolved = (action: ResolvedAction) => equals(slots.approvalResolution.at('action'), action);

    this.resolve = resolve(names.resolve, true);
    this.request.addCatch(this.resolve, { errors: ['States.ALL'], resultPath: slots.approvalError.path });
    // (Wired before the Choice: the order of wiring is the order of the States in the ASL.)
    if (!names.decided) this.request.next(props.proceed.next);
    const after = new sfn.Choice(this, names.after)
      .when(resolved(props.proceed.action), props.proceed.next)
      .when(resolved('escalate'), this.request)
      .otherwise(props.otherwise);
    if (names.decided) this.request.next(resolve(names.decided, false)).next(after);
    this.resolve.next(after);
    this.startState = this.request;
  }
}
