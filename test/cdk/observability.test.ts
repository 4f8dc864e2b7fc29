/**
 * Operating Baton (lib/aws/observability.ts): the dashboard, each alarm and the encrypted SNS
 * topic every alarm sends to, on the synthesized template.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Synthesized, synthStack } from './synth.js';

type Resource = { Type: string; Properties: Record<string, unknown> };

let s: Synthesized;
let resources: Record<string, Resource>;
let topicId: string;
beforeAll(() => {
  s = synthStack();
  resources = s.template.toJSON().Resources as Record<string, Resource>;
  const topics = Object.entries(resources).filter(
    ([id, r]) => r.Type === 'AWS::SNS::Topic' && id.startsWith('ObservabilityAlarmTopic'),
  );
  expect(topics).toHaveLength(1);
  topicId = topics[0]?.[0] as string;
});

const alarms = () => Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
const alarmOn = (namespace: string, metricName: string) =>
  alarms().filter((a) => a.Properties.Namespace === namespace && a.Properties.MetricName === metricName);

describe('the alarm topic', () => {
  it('is encrypted with a rotated key that CloudWatch may use', () => {
    const topic = resources[topicId] as Resource;
    expect(topic.Properties.KmsMasterKeyId).toMatchObject({
      'Fn::GetAtt': [expect.stringMatching(/^ObservabilityAlarmTopicKey/), 'Arn'],
    });
    s.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it('gets the ALARM and OK notifications of every alarm', () => {
    expect(alarms().length).toBeGreaterThan(0);
    for (const a of alarms()) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(a.Properties.OKActions).toEqual([{ Ref: topicId }]);
      expect(a.Properties).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });
});

describe('the alarms', () => {
  it('watch failed and timed-out executions of the state machine', () => {
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      const [a, ...more] = alarmOn('AWS/States', metric);
      expect(more).toEqual([]);
      expect(a?.Properties.Dimensions).toEqual([
        { Name: 'StateMachineArn', Value: { Ref: expect.stringMatching(/^Workflow/) } },
      ]);
      expect(a?.Properties.Statistic).toBe('Sum');
    }
  });

  it('watch every dead-letter queue for a message', () => {
    const queues = alarmOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible').map(
      (a) =>
        ((a.Properties.Dimensions as { Value: { 'Fn::GetAtt': string[] } }[])[0]?.Value['Fn::GetAtt'] ??
          [])[0],
    );
    expect(queues.map((q) => q?.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'IntakeDeadLetters',
      'ReconcilerDeadLetters',
      'TaskDeadLetters',
    ]);
  });

  it("watch every function's errors and throttles", () => {
    const watched = (metric: string) =>
      new Set(
        alarmOn('AWS/Lambda', metric).map(
          (a) => (a.Properties.Dimensions as { Value: { Ref: string } }[])[0]?.Value.Ref ?? '',
        ),
      );
    // Baton's functions (CDK's own helpers have no X-Ray tracing)
    const ours = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .filter(([, r]) => (r.Properties.TracingConfig as { Mode?: string } | undefined)?.Mode === 'Active')
      .map(([id]) => id);
    expect(ours.length).toBeGreaterThan(10);
    for (const metric of ['Errors', 'Throttles'])
      expect([...watched(metric)].sort()).toEqual([...ours].sort());
  });

  it("watch the HTTP API's 5xx", () => {
    const [a, ...more] = alarmOn('AWS/ApiGateway', '5xx');
    expect(more).toEqual([]);
    expect(a?.Properties.Dimensions).toEqual([
      { Name: 'ApiId', Value: { Ref: expect.stringMatching(/^HttpApi/) } },
    ]);
  });

  it('watch approvals near expiry, published by the intake sweeper', () => {
    const [a, ...more] = alarmOn('Baton', 'ApprovalsNearExpiry');
    expect(more).toEqual([]);
    expect(a?.Properties).toMatchObject({ Statistic: 'Maximum', Period: 300 });
  });
});

describe('the dashboard', () => {
  it('shows the Baton metrics beside the services and the alarms', () => {
    const [dashboard, ...more] = Object.values(resources).filter(
      (r) => r.Type === 'AWS::CloudWatch::Dashboard',
    );
    expect(more).toEqual([]);
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const metric of [
      'TasksCompleted',
      'StepDuration',
      'StepAttempts',
      'ApprovalWait',
      'ApprovalsNearExpiry',
      'InputTokens',
      'OutputTokens',
      'EstimatedCost',
      'DeadLetters',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ])
      expect(body, metric).toContain(metric);
    expect(body).toContain('alarm');
  });
});

describe("the task's trace id in the execution", () => {
  it('is passed from the execution input to every Lambda the state machine invokes', () => {
    // Every Lambda task's payload, at the top level and inside the Map's iteration.
    const payloads = [...Object.entries(s.asl.States), ...Object.entries(s.iteration.States)]
      .filter(([, st]) => st.Type === 'Task' && st.Parameters?.Payload)
      .map(([name, st]) => [name, st.Parameters?.Payload?.['traceId.$']]);
    expect(payloads.length).toBeGreaterThan(8);
    for (const [name, path] of payloads) expect(path, String(name)).toBe('$$.Execution.Input.traceId');
  });
});
