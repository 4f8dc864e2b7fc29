/**
 * IAM simulation per function role on the synthesized template: each role is allowed the calls
 * its code makes (read from the handlers and adapters) and denied representative others.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEXES, type SimulatedStack, simulateStack } from './iam-roles.js';

let stack: SimulatedStack;
beforeAll(() => {
  stack = simulateStack();
});

type Call = [action: string, resource: (a: SimulatedStack['arn']) => string];

/** What every store-using function does: items, conditional puts, updates, queries on the table and its indexes. */
const STORE: Call[] = [
  ['dynamodb:GetItem', (a) => a.table],
  ['dynamodb:PutItem', (a) => a.table],
  ['dynamodb:UpdateItem', (a) => a.table],
  ['dynamodb:Query', (a) => a.table],
  ...INDEXES.map((i): Call => ['dynamodb:Query', (a) => a.index(i)]),
];
const SEND_TASK: Call[] = [
  ['states:SendTaskSuccess', (a) => a.stateMachine],
  ['states:SendTaskFailure', (a) => a.stateMachine],
];

/** Denied for every role below: enumeration, deletes of artifacts, the other queues, the admin's. */
const NEVER: Call[] = [
  ['dynamodb:ListTables', () => '*'],
  ['dynamodb:DeleteTable', (a) => a.table],
  ['s3:ListAllMyBuckets', () => '*'],
  ['s3:DeleteObject', (a) => a.object('tasks/t_1/steps/a/1/out.md')],
  ['sqs:ListQueues', () => '*'],
  ['sqs:SendMessage', (a) => a.queue('IntakeDeadLetters')],
  ['states:ListStateMachines', () => '*'],
];

const OBJECT = 'tasks/t_1/steps/a/1/out.md';

const ROLES: Record<string, { allowed: Call[]; denied: Call[] }> = {
  stepRunner: {
    allowed: [
      ...STORE,
      // Upstream artifacts (read, and presigned GETs for the agent), the attempt's own (written,
      // and presigned PUTs of its upload slots, read back).
      ['s3:GetObject', (a) => a.object(OBJECT)],
      ['s3:PutObject', (a) => a.object(OBJECT)],
      ...['research', 'writing', 'data'].map(
        (n): Call => ['lambda:InvokeFunction', (a) => a.fn(`agent:${n}`)],
      ),
      // It completes the step it ran: its dependents' gates are released with their tokens.
      ...SEND_TASK,
    ],
    denied: [
      ['states:StartExecution', (a) => a.stateMachine],
      ['sqs:SendMessage', (a) => a.queue('Intake')],
      ['ssm:GetParameter', (a) => a.approvalSecret],
      ['lambda:InvokeFunction', (a) => a.fn('planner')],
      ['lambda:InvokeFunction', (a) => a.fn('stepRunner')],
      ['lambda:InvokeFunction', (a) => a.fn('api')],
    ],
  },
  api: {
    allowed: [
      ...STORE,
      ['s3:GetObject', (a) => a.object('tasks/t_1/steps/a/1/out.md')],
      ['sqs:SendMessage', (a) => a.queue('Intake')],
      ...SEND_TASK,
      ['states:StopExecution', (a) => a.execution('t_1-r1')],
      ['states:DescribeExecution', (a) => a.execution('t_1-r1')],
      ['ssm:GetParameter', (a) => a.approvalSecret],
    ],
    denied: [
      ['sqs:SendMessage', (a) => a.queue('TaskDeadLetters')],
      ['s3:PutObject', (a) => a.object('tasks/t_1/steps/a/1/out.md')],
      ['states:StartExecution', (a) => a.stateMachine],
      ['lambda:InvokeFunction', (a) => a.fn('agent:research')],
    ],
  },
  planner: {
    allowed: STORE,
    denied: [
      ['states:SendTaskSuccess', (a) => a.stateMachine],
      ['states:StartExecution', (a) => a.stateMachine],
      ['s3:GetObject', (a) => a.object('tasks/t_1/steps/a/1/out.md')],
      ['sqs:SendMessage', (a) => a.queue('Intake')],
      ['ssm:GetParameter', (a) => a.approvalSecret],
    ],
  },
  gate: {
    allowed: [...STORE, ...SEND_TASK, ['states:SendTaskHeartbeat', (a) => a.stateMachine]],
    denied: [
      ['states:StartExecution', (a) => a.stateMachine],
      ['states:StopExecution', (a) => a.execution('t_1-r1')],
      ['s3:GetObject', (a) => a.object('tasks/t_1/steps/a/1/out.md')],
      ['sqs:SendMessage', (a) => a.queue('Intake')],
    ],
  },
  stepFailed: {
    allowed: [...STORE, ...SEND_TASK],
    denied: [
      ['states:StartExecution', (a) => a.stateMachine],
      ['sqs:SendMessage', (a) => a.queue('TaskDeadLetters')],
      ['s3:PutObject', (a) => a.object('tasks/t_1/x')],
    ],
  },
  finalize: {
    // it answers its own token (the normal ending, lib/workflow/finalize.ts)
    allowed: [...STORE, ...SEND_TASK, ['sqs:SendMessage', (a) => a.queue('TaskDeadLetters')]],
    denied: [
      ['sqs:SendMessage', (a) => a.queue('Intake')],
      ['states:StartExecution', (a) => a.stateMachine],
    ],
  },
  requestApproval: {
    allowed: [...STORE, ...SEND_TASK, ['ssm:GetParameter', (a) => a.approvalSecret]],
    denied: [
      ['states:StartExecution', (a) => a.stateMachine],
      ['s3:GetObject', (a) => a.object('tasks/t_1/x')],
      ['ssm:GetParameter', () => 'arn:aws:ssm:us-east-1:000000000000:parameter/other'],
    ],
  },
  resolveApproval: {
    allowed: [...STORE, ...SEND_TASK],
    denied: [
      ['ssm:GetParameter', (a) => a.approvalSecret],
      ['states:StartExecution', (a) => a.stateMachine],
      ['sqs:SendMessage', (a) => a.queue('TaskDeadLetters')],
    ],
  },
  sweep: {
    allowed: [
      ['dynamodb:Query', (a) => a.index(INDEXES[0] as string)],
      ['dynamodb:GetItem', (a) => a.table],
      ['dynamodb:PutItem', (a) => a.table],
      ['dynamodb:UpdateItem', (a) => a.table],
      ['sqs:SendMessage', (a) => a.queue('Intake')],
    ],
    denied: [
      ['dynamodb:DeleteItem', (a) => a.table],
      ['states:StartExecution', (a) => a.stateMachine],
      ['sqs:SendMessage', (a) => a.queue('TaskDeadLetters')],
      ['s3:GetObject', (a) => a.object(OBJECT)],
    ],
  },
  // ---- fan-out steps (lib/aws/fanout.ts)
  prepareItems: {
    allowed: [
      ...STORE,
      // upstream artifacts and earlier runs' objects read, the items object written
      ['s3:GetObject', (a) => a.object(OBJECT)],
      ['s3:PutObject', (a) => a.object('tasks/t_1/steps/a/1/fanout/items.json')],
      ...SEND_TASK,
    ],
    denied: [
      ['lambda:InvokeFunction', (a) => a.fn('agent:research')],
      ['states:StartExecution', (a) => a.stateMachine],
      ['s3:ListBucket', () => 'arn:aws:s3:::someone-elses-bucket'],
      ['dynamodb:DeleteItem', (a) => a.table],
      ['ssm:GetParameter', (a) => a.approvalSecret],
    ],
  },
  collectItems: {
    allowed: [
      ...STORE,
      ['s3:ListBucket', (a) => a.bucket],
      ['s3:GetObject', (a) => a.object('tasks/t_1/steps/a/1/fanout/results/run/manifest.json')],
      ['s3:PutObject', (a) => a.object('tasks/t_1/steps/a/1/results.jsonl')],
      ...SEND_TASK,
    ],
    denied: [
      ['lambda:InvokeFunction', (a) => a.fn('agent:research')],
      ['states:StartExecution', (a) => a.stateMachine],
      ['dynamodb:DeleteItem', (a) => a.table],
    ],
  },
  itemsFailed: {
    allowed: STORE,
    denied: [
      ['s3:GetObject', (a) => a.object(OBJECT)],
      ['states:SendTaskSuccess', (a) => a.stateMachine],
      ['lambda:InvokeFunction', (a) => a.fn('agent:research')],
    ],
  },
  itemRunner: {
    allowed: [
      ...STORE,
      // presigned GETs of the step's upstream artifacts for the item's agent
      ['s3:GetObject', (a) => a.object(OBJECT)],
      ...['research', 'writing', 'data'].map(
        (n): Call => ['lambda:InvokeFunction', (a) => a.fn(`agent:${n}`)],
      ),
    ],
    denied: [
      ['s3:PutObject', (a) => a.object(OBJECT)],
      ['states:SendTaskSuccess', (a) => a.stateMachine],
      ['states:StartExecution', (a) => a.stateMachine],
      ['lambda:InvokeFunction', (a) => a.fn('stepRunner')],
      ['lambda:InvokeFunction', (a) => a.fn('itemRunner')],
      ['dynamodb:DeleteItem', (a) => a.table],
    ],
  },
  intake: {
    allowed: [
      ...STORE,
      ['states:StartExecution', (a) => a.stateMachine],
      // The event source mapping reads the queue with the function's role.
      ['sqs:ReceiveMessage', (a) => a.queue('Intake')],
      ['sqs:DeleteMessage', (a) => a.queue('Intake')],
      ['sqs:ChangeMessageVisibility', (a) => a.queue('Intake')],
      ['sqs:GetQueueAttributes', (a) => a.queue('Intake')],
    ],
    denied: [
      ['states:SendTaskSuccess', (a) => a.stateMachine],
      ['states:StopExecution', (a) => a.execution('t_1-r1')],
      ['sqs:SendMessage', (a) => a.queue('TaskDeadLetters')],
      ['sqs:ReceiveMessage', (a) => a.queue('TaskDeadLetters')],
    ],
  },
};

async function decide(role: Parameters<SimulatedStack['allows']>[0], calls: Call[]) {
  const out: Record<string, boolean> = {};
  for (const [action, resource] of calls) {
    const arn = resource(stack.arn);
    out[`${action} ${arn}`] = await stack.allows(role, action, arn);
  }
  return out;
}
const all = (calls: Call[], value: boolean) =>
  Object.fromEntries(calls.map(([action, resource]) => [`${action} ${resource(stack.arn)}`, value]));

describe('IAM simulation of the synthesized function roles', () => {
  it.each(Object.keys(ROLES))('%s: allowed what its code calls, denied the rest', async (fn) => {
    // Prepare
    const role = stack.role(fn);
    const { allowed, denied } = ROLES[fn] as { allowed: Call[]; denied: Call[] };

    // Act
    const allowedDecisions = await decide(role, allowed);
    const deniedDecisions = await decide(role, [...denied, ...NEVER]);

    // Assess
    expect(allowedDecisions).toEqual(all(allowed, true));
    expect(deniedDecisions).toEqual(all([...denied, ...NEVER], false));
  });

  it('state machine role: invokes the orchestrator functions and the runners, never an agent', async () => {
    // Prepare
    const role = stack.stateMachineRole;
    const invoked: Call[] = [
      ...[
        'planner',
        'gate',
        'stepFailed',
        'finalize',
        'requestApproval',
        'resolveApproval',
        'stepRunner',
        'prepareItems',
        'itemRunner',
        'itemsFailed',
        'collectItems',
      ].map((fn): Call => ['lambda:InvokeFunction', (a) => a.fn(fn)]),
      // Distributed Maps: the items object read, the ResultWriter's files written, child executions
      ['s3:GetObject', (a) => a.object('tasks/t_1/steps/a/2/fanout/items.json')],
      ['s3:PutObject', (a) => a.object('tasks/t_1/steps/a/2/fanout/results/run/manifest.json')],
      ['states:StartExecution', (a) => a.stateMachine],
    ];
    const denied: Call[] = [
      ['s3:PutObject', (a) => a.object('tasks/t_1/steps/a/2/results.jsonl')],
      ['s3:GetObject', (a) => a.object('tasks/t_1/steps/a/2/report.md')],
      ...stack.agents.map((n): Call => ['lambda:InvokeFunction', (a) => a.fn(`agent:${n}`)]),
      ['lambda:InvokeFunction', (a) => a.fn('api')],
      ['lambda:InvokeFunction', (a) => a.fn('intake')],
      ['dynamodb:GetItem', (a) => a.table],
      ['s3:GetObject', (a) => a.object('tasks/t_1/x')],
      ['states:SendTaskSuccess', (a) => a.stateMachine],
    ];

    // Act
    const allowedDecisions = await decide(role, invoked);
    const deniedDecisions = await decide(role, [...denied, ...NEVER]);

    // Assess
    expect(stack.agents.length).toBeGreaterThan(0);
    expect(allowedDecisions).toEqual(all(invoked, true));
    expect(deniedDecisions).toEqual(all([...denied, ...NEVER], false));
  });
});
