/**
 * The reconciler's wiring in the synthesized template: the EventBridge rule (this state machine's
 * TIMED_OUT / ABORTED / FAILED status changes), its target's retries and dead-letter queue,
 * Lambda's own asynchronous retries, and a role that reaches only what the reconciler needs.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synthStack } from './synth.js';

const { template } = synthStack();
const json = template.toJSON() as {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
};
const idOf = (type: string, pred: (p: Record<string, unknown>) => boolean) =>
  Object.entries(json.Resources).find(([, r]) => r.Type === type && pred(r.Properties))?.[0] as string;

const reconciler = idOf('AWS::Lambda::Function', (p) => String(p.Handler).endsWith('.reconcile'));
const stateMachine = idOf('AWS::StepFunctions::StateMachine', () => true);
const queue = (prefix: string) =>
  Object.keys(json.Resources).find(
    (id) => id.startsWith(prefix) && json.Resources[id]?.Type === 'AWS::SQS::Queue',
  );
const dlq = queue('ReconcilerDeadLetters');
const taskDlq = queue('TaskDeadLetters');

describe('the reconciler in the stack', () => {
  it('receives this state machine’s TIMED_OUT, ABORTED and FAILED status changes, with retries and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [{ Ref: stateMachine }], status: ['TIMED_OUT', 'ABORTED', 'FAILED'] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [reconciler, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: reconciler },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: Match.stringLikeRegexp('\\.reconcile$'),
      Environment: {
        Variables: Match.objectLike({
          STATE_MACHINE_ARN: { Ref: stateMachine },
          DEAD_LETTER_QUEUE_URL: { Ref: taskDlq },
        }),
      },
    });
  });

  it('has a role that reads and appends to the table and sends to the task dead-letter queue, nothing more', () => {
    const roleRef = json.Resources[reconciler]?.Properties.Role as { 'Fn::GetAtt': [string, string] };
    const role = roleRef['Fn::GetAtt'][0];
    const statements = Object.values(json.Resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role),
      )
      .flatMap(
        (r) => (r.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement,
      );
    const granted = statements
      .map((st) => {
        const { Action, Resource } = st as { Action: string | string[]; Resource: unknown };
        return [[Action].flat().sort().join(' '), JSON.stringify(Resource)];
      })
      .sort();
    const arn = (id: string | undefined) => ({ 'Fn::GetAtt': [id, 'Arn'] });
    const table = Object.keys(json.Resources).find(
      (id) => json.Resources[id]?.Type === 'AWS::DynamoDB::GlobalTable',
    );
    const sendTo = 'sqs:GetQueueAttributes sqs:GetQueueUrl sqs:SendMessage';
    expect(granted).toEqual(
      [
        // the task's items: no deletes, no scans, no batch writes
        [
          'dynamodb:GetItem dynamodb:PutItem dynamodb:Query dynamodb:UpdateItem',
          JSON.stringify([arn(table), { 'Fn::Join': ['', [arn(table), '/index/*']] }]),
        ],
        // its dead letters, and Lambda's on-failure destination
        [sendTo, JSON.stringify(arn(taskDlq))],
        [sendTo, JSON.stringify(arn(dlq))],
        // active tracing
        ['xray:PutTelemetryRecords xray:PutTraceSegments', JSON.stringify('*')],
      ].sort(),
    );
  });
});
