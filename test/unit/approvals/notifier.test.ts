import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ApprovalNotification,
  ApprovalNotificationError,
  ConsoleApprovalNotifier,
  SnsApprovalNotifier,
} from '../../../lambdas/adapters/notifier.js';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:baton-approvals';
const URL_ = 'https://api.example.com/approvals/AbCdEfGhIjKlMnOpQrStUv?exp=1893542400&sig=s1g';

const stepRequest: ApprovalNotification = {
  approvalId: 'AbCdEfGhIjKlMnOpQrStUv',
  taskId: 'task-42',
  stepId: 'publish',
  kind: 'step',
  goal: 'Write the\nlaunch post',
  url: URL_,
  expiresAt: new Date('2030-01-02T00:00:00.000Z'),
};

describe('SnsApprovalNotifier', () => {
  const sns = mockClient(SNSClient);
  beforeEach(() => sns.reset());
  afterEach(() => sns.reset());

  it('publishes exactly one message with subject, link and attributes', async () => {
    // Prepare
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const notifier = new SnsApprovalNotifier({
      topicArn: TOPIC,
      client: new SNSClient({ region: 'eu-west-1' }),
    });
    // Act
    await notifier.notify(stepRequest);
    // Assess
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      TopicArn: TOPIC,
      Subject: 'Baton: approve step publish',
      Message: [
        'Baton needs your decision on step publish of task task-42.',
        '',
        'Goal: Write the launch post',
        '',
        'Review it and approve or reject here:',
        URL_,
        '',
        'The link expires at 2030-01-02T00:00:00.000Z. It works once: the first decision counts.',
        'Approval id: AbCdEfGhIjKlMnOpQrStUv',
      ].join('\n'),
      MessageAttributes: {
        taskId: { DataType: 'String', StringValue: 'task-42' },
        kind: { DataType: 'String', StringValue: 'step' },
      },
    });
  });

  it('names the plan in the subject of a plan gate and keeps the goal out of it', async () => {
    // Prepare
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    const notifier = new SnsApprovalNotifier({
      topicArn: TOPIC,
      client: new SNSClient({ region: 'eu-west-1' }),
    });
    const goal = `Plan ${'x'.repeat(1000)}`;
    // Act
    await notifier.notify({ ...stepRequest, kind: 'plan', stepId: undefined, goal });
    // Assess
    const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(input?.Subject).toBe('Baton: approve the plan of a task');
    expect(input?.Message).toContain('Baton needs your decision on the plan of task task-42.');
    expect(input?.Message).toContain(`Goal: Plan ${'x'.repeat(494)}…\n`);
    expect(input?.MessageAttributes?.kind).toEqual({ DataType: 'String', StringValue: 'plan' });
  });

  it('wraps a failure in a typed error that keeps the cause and leaves the link out', async () => {
    // Prepare
    const failure = Object.assign(new Error('User is not authorized to perform SNS:Publish'), {
      name: 'AuthorizationErrorException',
    });
    sns.on(PublishCommand).rejects(failure);
    const notifier = new SnsApprovalNotifier({
      topicArn: TOPIC,
      client: new SNSClient({ region: 'eu-west-1' }),
    });
    // Act
    const err = await notifier.notify(stepRequest).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Assess
    expect(err).toBeInstanceOf(ApprovalNotificationError);
    const typed = err as ApprovalNotificationError;
    expect(typed.name).toBe('Baton.ApprovalNotificationFailed');
    expect(typed.cause).toBe(failure);
    expect(typed.approvalId).toBe(stepRequest.approvalId);
    expect(typed.message).toContain('AuthorizationErrorException');
    expect(typed.message).toContain(TOPIC);
    expect(typed.message).not.toContain('sig=');
  });

  it('refuses a topic ARN that is not one', () => {
    // Act + Assess
    expect(() => new SnsApprovalNotifier({ topicArn: 'baton-approvals' })).toThrow(/not an SNS topic ARN/);
  });
});

describe('ConsoleApprovalNotifier', () => {
  it('prints one line with the link through the given log function', async () => {
    // Prepare
    const lines: string[] = [];
    const notifier = new ConsoleApprovalNotifier((line) => lines.push(line));
    // Act
    await notifier.notify(stepRequest);
    // Assess
    expect(lines).toEqual([
      `[baton] approval needed for step publish of task task-42: open ${URL_} (expires 2030-01-02T00:00:00.000Z)`,
    ]);
  });
});
