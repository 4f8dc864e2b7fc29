import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorNames, LAMBDA_SERVICE_ERRORS } from '../../lambdas/core/errors.js';
import { STATE } from '../../lib/workflow/definition.js';
import { type Asl, synthStack } from './synth.js';

let template: Template;
let asl: Asl;
let iteration: Asl;

beforeAll(() => {
  ({ template, asl, iteration } = synthStack());
});

describe('Baton stack', () => {
  it('stores state in an on-demand table with point-in-time recovery and the listing indexes', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      LocalSecondaryIndexes: [Match.objectLike({ IndexName: 'bySeq' })],
      GlobalSecondaryIndexes: [
        Match.objectLike({ IndexName: 'byStatus' }),
        Match.objectLike({ IndexName: 'byCreated' }),
      ],
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
  });

  it('keeps artifacts in a private, SSL-only bucket', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('buffers intake in SQS with a dead-letter queue and a batch-failure-aware consumer', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  it('ships source maps beside the code, not enabled at start', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment?: { Variables?: Record<string, unknown> } };
    }[];
    expect(fns.length).toBeGreaterThan(10);
    for (const fn of fns)
      expect(String(fn.Properties.Environment?.Variables?.NODE_OPTIONS ?? '')).not.toContain(
        'enable-source-maps',
      );
  });

  it('runs one Node 22 Lambda per agent, built-in and registered', () => {
    for (const agent of ['research', 'writing', 'echo']) {
      template.hasResource('AWS::Lambda::Function', {
        Metadata: Match.objectLike({ 'baton:agent': agent }),
        Properties: Match.objectLike({ Runtime: 'nodejs22.x', Architectures: ['arm64'] }),
      });
    }
  });

  it('serves the API through an HTTP API with IAM auth, and an open health check', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: '$default',
      AuthorizationType: 'AWS_IAM',
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'GET /healthz',
      AuthorizationType: 'NONE',
    });
  });
});

describe('Baton state machine', () => {
  it('is a Standard workflow: Plan, then a Map over the steps, then Finalize', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD' });
    expect(asl.StartAt).toBe(STATE.plan);
    // Plan -> (plan approval gate when the policy asks for one) -> RunSteps
    expect(asl.States[STATE.plan]?.Next).toBe(STATE.planApproval);
    expect(asl.States[STATE.planApproval]).toMatchObject({ Type: 'Choice', Default: STATE.runSteps });
    expect(asl.States[STATE.runSteps]).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.plan.items',
      MaxConcurrencyPath: '$.plan.maxConcurrency',
      Next: STATE.finalize,
      Catch: [{ ErrorEquals: ['States.ALL'], Next: STATE.finalizeAfterError }],
    });
    // Finalize answers its own token: it ends a task that did not fail, and a failed one goes to
    // the Fail state with Baton.TaskFailed (no Outcome Choice, no Succeed state)
    expect(asl.States[STATE.finalize]).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      End: true,
      Catch: [
        { ErrorEquals: [ErrorNames.TaskFailed], Next: STATE.taskFailed },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.finalizeAfterError },
      ],
    });
    expect(asl.States[STATE.taskFailed]).toMatchObject({ Type: 'Fail', Error: ErrorNames.TaskFailed });
  });

  it('parks each step on its own dependencies with a task token, and never forever', () => {
    expect(iteration.StartAt).toBe(STATE.awaitDependencies);
    const gate = iteration.States[STATE.awaitDependencies] as Record<string, unknown>;
    expect(gate.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect((gate.Parameters as { Payload: Record<string, string> }).Payload['taskToken.$']).toBe(
      '$$.Task.Token',
    );
    // It tells the gate that this definition catches its routes (stored with the token).
    expect((gate.Parameters as { Payload: Record<string, unknown> }).Payload.routes).toBe(true);
    // Never forever, and never shorter than what the dependencies can take (lambdas/core/bounds.ts).
    expect(gate.TimeoutSeconds).toBeUndefined();
    expect(gate.TimeoutSecondsPath).toBe('$.dependencyTimeoutSeconds');
    // Its routes are caught first (below); any other failure fails the step.
    expect((gate.Catch as unknown[]).at(-1)).toEqual({
      ErrorEquals: ['States.ALL'],
      ResultPath: '$.error',
      Next: STATE.gateFailed,
    });
  });

  it("runs the step's own agent function through the step runner, with its own timeout and AWS's Lambda retrier", () => {
    const run = iteration.States[STATE.runAgent] as Record<string, unknown>;
    expect(run).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: expect.stringMatching(/:function:StepRunner[0-9A-F]{8}$/),
        Payload: { 'agentFunction.$': '$.agentFunction' },
      },
      TimeoutSecondsPath: '$.timeoutSeconds',
      // the step runner completes the step: RunAgent ends the iteration, with nothing for the Map to collect
      End: true,
      OutputPath: null,
    });
    expect(run.Next).toBeUndefined();
    expect(run.Retry).toEqual([
      {
        ErrorEquals: LAMBDA_SERVICE_ERRORS,
        IntervalSeconds: 1,
        MaxAttempts: 3,
        BackoffRate: 2,
        JitterStrategy: 'FULL',
      },
    ]);
    expect(run.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.recordAttemptFailure },
    ]);
  });

  it('retries a failed attempt through a visible record, backoff and next-attempt loop', () => {
    expect(iteration.States[STATE.recordAttemptFailure]?.Next).toBe(STATE.retryOrGiveUp);
    expect(iteration.States[STATE.retryOrGiveUp]).toMatchObject({
      Type: 'Choice',
      Choices: [
        { Variable: '$.retry.retry', BooleanEquals: true, Next: STATE.backoff },
        { Variable: '$.retry.useFallback', BooleanEquals: true, Next: STATE.runFallback },
        { Variable: '$.retry.review', BooleanEquals: true, Next: STATE.requestReview },
      ],
      Default: STATE.stepDone,
    });
    expect(iteration.States[STATE.backoff]).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.retry.waitSeconds',
      Next: STATE.nextAttempt,
    });
    expect(iteration.States[STATE.nextAttempt]).toMatchObject({
      Type: 'Pass',
      InputPath: '$.retry.nextAttempt',
      ResultPath: '$.attempt',
      Next: STATE.runAgent,
    });
  });

  it('runs the fallback agent with the primary failure, and fails the step if the fallback fails too', () => {
    const fallback = iteration.States[STATE.runFallback] as Record<string, unknown>;
    expect(fallback).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: expect.stringMatching(/:function:StepRunner[0-9A-F]{8}$/),
        Payload: {
          'agentFunction.$': '$.retry.fallback.function',
          'attempt.$': '$.retry.nextAttempt',
          'failure.$': '$.retry.fallback.failure',
        },
      },
      TimeoutSecondsPath: '$.timeoutSeconds',
      End: true,
      OutputPath: null,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.fallbackFailed }],
    });
    // A failed fallback fails the step, or (policy.humanReviewOnFailure) goes to a human review.
    expect(iteration.States[STATE.fallbackFailed]).toMatchObject({
      Parameters: { Payload: { phase: 'fallback', 'attempt.$': '$.retry.nextAttempt' } },
      ResultPath: '$.retry',
      Next: STATE.retryOrGiveUp,
    });
  });

  it('runs a step that succeeds in two states: AwaitDependencies, RunAgent', () => {
    // Prepare: follow the happy path (the gate's task success) through the iteration
    const gate = iteration.States[STATE.awaitDependencies] as { Next?: string };
    const path = [STATE.awaitDependencies, gate.Next];
    const last = iteration.States[gate.Next as string] as { End?: boolean };
    // Assess
    expect(path).toEqual([STATE.awaitDependencies, STATE.runAgent]);
    expect(last.End).toBe(true);
    // No Choice state reads the gate's answer: the routes are its token's task failures.
    expect(JSON.stringify(iteration)).not.toContain('$.gate.action');
  });

  it('leaves a gate by its route for anything but a plain run, each route caught into its first state, before GateFailed', () => {
    const gate = iteration.States[STATE.awaitDependencies] as {
      Catch: { ErrorEquals: string[]; Next: string; ResultPath: string }[];
    };
    expect(gate.Catch).toEqual([
      { ErrorEquals: [ErrorNames.GateNotRun], ResultPath: '$.gate', Next: STATE.stepDone },
      { ErrorEquals: [ErrorNames.GateApproval], ResultPath: '$.gate', Next: STATE.requestApproval },
      { ErrorEquals: [ErrorNames.GateFanOut], ResultPath: '$.gate', Next: STATE.prepareItems },
      {
        ErrorEquals: [ErrorNames.GateFanOutApproval],
        ResultPath: '$.gate',
        Next: STATE.requestItemsApproval,
      },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.gateFailed },
    ]);
  });

  it('bounds every orchestrator Lambda task with a timeout', () => {
    const tasks = [...Object.entries(asl.States), ...Object.entries(iteration.States)].filter(
      ([, st]) => st.Type === 'Task',
    );
    for (const [name, st] of tasks) {
      expect(st.TimeoutSeconds ?? st.TimeoutSecondsPath, name).toBeDefined();
    }
  });

  it('dead-letters failed tasks to their own queue, read by Finalize', () => {
    template.hasResource('AWS::Lambda::Function', {
      Metadata: Match.objectLike({ 'baton:handler': 'finalize' }),
      Properties: Match.objectLike({
        Environment: { Variables: Match.objectLike({ DEAD_LETTER_QUEUE_URL: Match.anyValue() }) },
      }),
    });
  });

  it('grants invoke on every agent function to the step runner and the item runner alone', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy'));
    const agents = Object.keys(
      template.findResources('AWS::Lambda::Function', {
        Metadata: Match.objectLike({ 'baton:agent': Match.anyValue() }),
      }),
    );
    const granting = (agentId: string) =>
      policies.filter(([, p]) => JSON.stringify(p).includes(`"${agentId}"`)).map(([id]) => id);
    expect(agents.length).toBeGreaterThan(0);
    for (const id of agents)
      expect(granting(id).sort(), id).toEqual([
        expect.stringMatching(/^ItemRunnerServiceRoleDefaultPolicy/),
        expect.stringMatching(/^StepRunnerServiceRoleDefaultPolicy/),
      ]);
  });
});
