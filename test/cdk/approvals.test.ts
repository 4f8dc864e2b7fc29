/** CDK assertions for the approval gates: their states, timeouts, Catch routes, and the stack's approval plumbing. */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { STATE } from '../../lib/workflow/definition.js';
import { type Asl, synthStack } from './synth.js';

let template: Template;
let asl: Asl;
let iteration: Asl;

beforeAll(() => {
  ({ template, asl, iteration } = synthStack());
});

const gateCatch = (next: string) => [
  { ErrorEquals: ['States.ALL'], ResultPath: '$.approvalError', Next: next },
];

describe('approval gates in the state machine', () => {
  it('bounds every task-token state with a timeout and catches whatever ends it', () => {
    const all = [...Object.entries(asl.States), ...Object.entries(iteration.States)];
    const tokenStates = all.filter(([, st]) => String(st.Resource).endsWith('.waitForTaskToken'));
    expect(tokenStates.map(([name]) => name).sort()).toEqual(
      [
        STATE.awaitDependencies,
        STATE.finalize,
        STATE.requestApproval,
        STATE.requestItemsApproval,
        STATE.requestPlanApproval,
        STATE.requestReview,
      ].sort(),
    );
    for (const [name, st] of tokenStates) {
      expect(st.TimeoutSeconds ?? st.TimeoutSecondsPath, name).toBeDefined();
      expect(st.Catch, name).toBeDefined();
      expect(st.Parameters?.Payload?.['taskToken.$'], name).toBe('$$.Task.Token');
    }
  });

  it('gates a step with approval "before" after its dependencies, with the timeout the planner puts in the Map item', () => {
    // The gate of a step with an approval is left by its route (lambdas/core/states.ts gateRoute).
    const gate = iteration.States[STATE.awaitDependencies] as {
      Catch: { ErrorEquals: string[]; Next: string }[];
    };
    expect(gate.Catch).toContainEqual(
      expect.objectContaining({ ErrorEquals: [ErrorNames.GateApproval], Next: STATE.requestApproval }),
    );
    expect(asl.States[STATE.runSteps]).toMatchObject({
      ItemSelector: {
        'approval.$': '$$.Map.Item.Value.approval',
        'approvalTimeoutSeconds.$': '$$.Map.Item.Value.approvalTimeoutSeconds',
      },
    });
    expect(iteration.States[STATE.requestApproval]).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { Payload: { kind: 'step', 'stepId.$': '$.stepId', 'run.$': '$.run' } },
      TimeoutSecondsPath: '$.approvalTimeoutSeconds',
      ResultPath: null,
      Next: STATE.runAgent,
      Catch: gateCatch(STATE.resolveApproval),
    });
  });

  it('resolves a gate that did not approve: run (a decision won the race), escalate once, or end the step', () => {
    expect(iteration.States[STATE.resolveApproval]).toMatchObject({
      Parameters: { Payload: { kind: 'step', 'error.$': '$.approvalError' } },
      ResultPath: '$.approvalResolution',
      Next: STATE.afterApproval,
    });
    expect(iteration.States[STATE.afterApproval]).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.approvalResolution.action', StringEquals: 'run', Next: STATE.runAgent },
        { Variable: '$.approvalResolution.action', StringEquals: 'escalate', Next: STATE.requestApproval },
      ],
      Default: STATE.stepDone,
    });
  });

  it('gates the plan between Plan and RunSteps when the policy asks, and fails the task on rejection', () => {
    expect(asl.States[STATE.plan]).toMatchObject({
      ResultSelector: {
        'requireApproval.$': '$.Payload.requireApproval',
        'approvalTimeoutSeconds.$': '$.Payload.approvalTimeoutSeconds',
      },
      Next: STATE.planApproval,
    });
    expect(asl.States[STATE.planApproval]).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.plan.requireApproval', BooleanEquals: true, Next: STATE.requestPlanApproval }],
      Default: STATE.runSteps,
    });
    expect(asl.States[STATE.requestPlanApproval]).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { Payload: { kind: 'plan' } },
      TimeoutSecondsPath: '$.plan.approvalTimeoutSeconds',
      ResultPath: null,
      Next: STATE.runSteps,
      Catch: gateCatch(STATE.resolvePlanApproval),
    });
    expect(asl.States[STATE.resolvePlanApproval]).toMatchObject({
      Next: STATE.afterPlanApproval,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.finalizeAfterError }],
    });
    expect(asl.States[STATE.afterPlanApproval]).toMatchObject({
      Choices: [
        { StringEquals: 'run', Next: STATE.runSteps },
        { StringEquals: 'escalate', Next: STATE.requestPlanApproval },
      ],
      Default: STATE.planNotApproved,
    });
    expect(asl.States[STATE.planNotApproved]).toMatchObject({
      Type: 'Pass',
      InputPath: '$.approvalResolution.error',
      ResultPath: '$.error',
      Next: STATE.finalizeAfterError,
    });
  });

  it('sends a failed step to human review when the policy asks: accept, retry once more, escalate, or fail', () => {
    expect(iteration.States[STATE.requestReview]).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { Payload: { kind: 'review', 'attempt.$': '$.retry.nextAttempt', 'error.$': '$.error' } },
      TimeoutSecondsPath: '$.approvalTimeoutSeconds',
      Next: STATE.reviewDecided,
      Catch: gateCatch(STATE.resolveReview),
    });
    for (const name of [STATE.reviewDecided, STATE.resolveReview]) {
      expect(iteration.States[name], name).toMatchObject({
        ResultPath: '$.approvalResolution',
        Next: STATE.afterReview,
      });
    }
    expect(iteration.States[STATE.afterReview]).toMatchObject({
      Choices: [
        { StringEquals: 'retry', Next: STATE.reviewRetry },
        { StringEquals: 'escalate', Next: STATE.requestReview },
      ],
      Default: STATE.stepDone,
    });
    expect(iteration.States[STATE.reviewRetry]).toMatchObject({
      Type: 'Pass',
      InputPath: '$.retry.nextAttempt',
      ResultPath: '$.attempt',
      Next: STATE.runAgent,
    });
  });

  it('keeps task tokens out of the execution state: gate results are discarded', () => {
    for (const name of [STATE.requestApproval, STATE.requestReview])
      expect(iteration.States[name]?.ResultPath, name).toBeNull();
    expect(asl.States[STATE.requestPlanApproval]?.ResultPath).toBeNull();
  });
});

describe('approval plumbing in the stack', () => {
  it('publishes approval requests to an SNS topic, from the RequestApproval function only', () => {
    // One topic for approvers (the other is the alarms', lib/aws/observability.ts).
    const topics = Object.keys(template.findResources('AWS::SNS::Topic'));
    expect(topics.filter((id) => id.startsWith('ApprovalRequests'))).toHaveLength(1);
    expect(topics).toHaveLength(2);
    template.hasResource('AWS::Lambda::Function', {
      Metadata: Match.objectLike({ 'baton:handler': 'requestApproval' }),
      Properties: Match.objectLike({
        Environment: {
          Variables: Match.objectLike({
            APPROVAL_TOPIC_ARN: Match.anyValue(),
            BATON_APPROVAL_SECRET_PARAM: '/Test/approval-signing-secret',
            BATON_PUBLIC_URL: Match.anyValue(),
          }),
        },
      }),
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('sns:Publish');
    expect(policies).toContain('ssm:GetParameter');
    expect(policies).toContain('parameter/Test/approval-signing-secret');
  });

  it('opens the approval link routes (the signature is the credential) and keeps the rest behind IAM', () => {
    for (const method of ['GET', 'POST']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: `${method} /approvals/{id}`,
        AuthorizationType: 'NONE',
      });
    }
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: '$default',
      AuthorizationType: 'AWS_IAM',
    });
  });

  it('lets the API resume a gate with its stored token (decisions) and read the signing secret', () => {
    template.hasResource('AWS::Lambda::Function', {
      Metadata: Match.objectLike({ 'baton:entry': 'lambdas/api/handler.ts' }),
      Properties: Match.objectLike({
        Environment: {
          Variables: Match.objectLike({
            BATON_APPROVAL_SECRET_PARAM: Match.anyValue(),
            BATON_PUBLIC_URL: Match.anyValue(),
          }),
        },
      }),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'], Effect: 'Allow' }),
        ]),
      },
    });
    template.hasOutput('ApprovalSecretParameterName', { Value: '/Test/approval-signing-secret' });
  });
});
