/**
 * IAM simulation of the agent roles against the isolation design of docs/SECURITY.md: an agent
 * role holds no Baton permissions (no table, no bucket, no queues, no Step Functions, no SSM), so
 * whatever its code does with the SDK is refused; the step runner does its reads and writes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEXES, type SimulatedStack, simulateStack } from './iam-roles.js';

let stack: SimulatedStack;
beforeAll(() => {
  stack = simulateStack();
});

describe('IAM simulation of the agent roles (docs/SECURITY.md)', () => {
  it('has agents to check', () => {
    // Assess
    expect(stack.agents).toEqual(expect.arrayContaining(['research', 'writing', 'review', 'data', 'coding']));
  });

  it('denies every agent role the table, the bucket, enumeration, task tokens, queues and the signing secret', async () => {
    // Prepare
    const object = stack.arn.object('tasks/t_other/steps/a/1/out.md');
    const forbidden: [string, string][] = [
      ...stack.arn.tables.flatMap((table): [string, string][] => [
        ['dynamodb:GetItem', table],
        ['dynamodb:Query', table],
        ['dynamodb:PutItem', table],
        ['dynamodb:UpdateItem', table],
        ['dynamodb:DeleteItem', table],
        ['dynamodb:Scan', table],
      ]),
      ...INDEXES.map((i): [string, string] => ['dynamodb:Query', stack.arn.index(i)]),
      ['dynamodb:ListTables', '*'],
      ['s3:GetObject', object],
      ['s3:PutObject', object],
      ['s3:DeleteObject', object],
      ['s3:ListBucket', stack.arn.bucket],
      ['s3:ListAllMyBuckets', '*'],
      ['states:SendTaskSuccess', stack.arn.stateMachine],
      ['states:SendTaskFailure', stack.arn.stateMachine],
      ['states:StartExecution', stack.arn.stateMachine],
      ['sqs:SendMessage', stack.arn.queue('Intake')],
      ['sqs:SendMessage', stack.arn.queue('TaskDeadLetters')],
      ['sqs:ListQueues', '*'],
      ['ssm:GetParameter', stack.arn.approvalSecret],
      ['lambda:InvokeFunction', stack.arn.fn('stepRunner')],
      ['lambda:InvokeFunction', stack.arn.fn('planner')],
      ['lambda:InvokeFunction', stack.arn.fn('agent:writing')],
    ];

    // Act
    const allowed: string[] = [];
    for (const agent of stack.agents) {
      const role = stack.role(`agent:${agent}`);
      for (const [action, resource] of forbidden)
        if (await stack.allows(role, action, resource)) allowed.push(`${agent}: ${action} ${resource}`);
    }

    // Assess
    expect(allowed).toEqual([]);
  });

  it('still lets an agent write its logs', async () => {
    // Act
    const logs = await Promise.all(
      stack.agents.map((a) => stack.allows(stack.role(`agent:${a}`), 'logs:PutLogEvents', '*')),
    );

    // Assess
    expect(logs.every(Boolean)).toBe(true);
  });
});
