/** The action table of local IAM: operation -> IAM action(s) and resource ARN(s); unknown -> refused. */
import { describe, expect, it } from 'vitest';
import {
  type ArnContext,
  callsOfOperation,
  callsOfS3,
  type S3Request,
  s3Target,
  UnknownOperationError,
} from '../../lib/local/iam/actions.js';
import { AWS_MANAGED_POLICIES } from '../../lib/local/iam/policies.js';

const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:Baton-workflow';
const ctx: ArnContext = {
  region: 'us-east-1',
  account: '000000000000',
  stateMachineOfToken: (token) => (token === 'tok-1' ? SM : undefined),
};
const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/baton-Store';
const s3 = (method: string, url: string, headers: Record<string, string> = {}, body = ''): S3Request => {
  const u = new URL(url, 'http://local');
  return { method, ...s3Target(u.pathname), query: u.searchParams, headers, body: Buffer.from(body) };
};

describe('local IAM action table: DynamoDB', () => {
  it('maps item, query, batch and transaction operations to their actions on the table or index ARN', () => {
    // Act
    const get = callsOfOperation('dynamodb', 'GetItem', { TableName: 'baton-Store' }, ctx);
    const onIndex = callsOfOperation(
      'dynamodb',
      'Query',
      { TableName: 'baton-Store', IndexName: 'byStatus' },
      ctx,
    );
    const query = callsOfOperation('dynamodb', 'Query', { TableName: 'baton-Store' }, ctx);
    const batch = callsOfOperation(
      'dynamodb',
      'BatchWriteItem',
      { RequestItems: { 'baton-Store': [], other: [] } },
      ctx,
    );
    const transact = callsOfOperation(
      'dynamodb',
      'TransactWriteItems',
      {
        TransactItems: [
          { Put: { TableName: 'baton-Store' } },
          { ConditionCheck: { TableName: 'baton-Store' } },
          { Delete: { TableName: 'baton-Store' } },
        ],
      },
      ctx,
    );
    const tables = callsOfOperation('dynamodb', 'ListTables', {}, ctx);

    // Assess
    expect(get).toEqual([{ action: 'dynamodb:GetItem', resource: TABLE }]);
    expect(onIndex).toEqual([{ action: 'dynamodb:Query', resource: `${TABLE}/index/byStatus` }]);
    expect(query).toEqual([{ action: 'dynamodb:Query', resource: TABLE }]);
    expect(batch.map((c) => c.resource)).toEqual([
      TABLE,
      'arn:aws:dynamodb:us-east-1:000000000000:table/other',
    ]);
    expect(transact.map((c) => c.action)).toEqual([
      'dynamodb:PutItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
    ]);
    expect(tables).toEqual([{ action: 'dynamodb:ListTables', resource: '*' }]);
  });

  it('refuses an operation it does not know', () => {
    // Act
    const unknown = () => callsOfOperation('dynamodb', 'ExportTableToPointInTime', {}, ctx);

    // Assess
    expect(unknown).toThrow(UnknownOperationError);
    expect(unknown).toThrow(/ExportTableToPointInTime is not in the action table/);
  });
});

describe('local IAM action table: S3 (path-style REST)', () => {
  it('routes method, path and query to the operation and its IAM calls', () => {
    // Act
    const cases = {
      listBuckets: callsOfS3(s3('GET', '/')),
      createBucket: callsOfS3(s3('PUT', '/b')),
      listV2: callsOfS3(s3('GET', '/b?list-type=2&prefix=tasks%2F')),
      head: callsOfS3(s3('HEAD', '/b/tasks/t1/a%20b.md')),
      get: callsOfS3(s3('GET', '/b/tasks/t1/a.md?x-id=GetObject')),
      presignedGet: callsOfS3(
        s3(
          'GET',
          '/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Signature=y&x-id=GetObject',
        ),
      ),
      put: callsOfS3(s3('PUT', '/b/k')),
      copy: callsOfS3(s3('PUT', '/b/dst', { 'x-amz-copy-source': '/b/src%20x' })),
      del: callsOfS3(s3('DELETE', '/b/k')),
      deleteMany: callsOfS3(
        s3(
          'POST',
          '/b?delete',
          {},
          '<Delete><Object><Key>a</Key></Object><Object><Key>c&amp;d</Key></Object></Delete>',
        ),
      ),
    };

    // Assess
    expect(cases.listBuckets).toEqual({
      operation: 'ListBuckets',
      calls: [{ action: 's3:ListAllMyBuckets', resource: '*' }],
    });
    expect(cases.createBucket.calls).toEqual([{ action: 's3:CreateBucket', resource: 'arn:aws:s3:::b' }]);
    expect(cases.listV2).toEqual({
      operation: 'ListObjectsV2',
      calls: [{ action: 's3:ListBucket', resource: 'arn:aws:s3:::b' }],
    });
    expect(cases.head).toEqual({
      operation: 'HeadObject',
      calls: [{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/tasks/t1/a b.md' }],
    });
    expect(cases.get.calls).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/tasks/t1/a.md' }]);
    expect(cases.presignedGet.calls).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }]);
    expect(cases.put.calls).toEqual([{ action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }]);
    expect(cases.copy).toEqual({
      operation: 'CopyObject',
      calls: [
        { action: 's3:GetObject', resource: 'arn:aws:s3:::b/src x' },
        { action: 's3:PutObject', resource: 'arn:aws:s3:::b/dst' },
      ],
    });
    expect(cases.del.calls).toEqual([{ action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/k' }]);
    expect(cases.deleteMany.calls).toEqual([
      { action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/a' },
      { action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/c&d' },
    ]);
  });

  it('refuses a subresource it does not know (e.g. ?acl, ?policy)', () => {
    // Act
    const acl = () => callsOfS3(s3('PUT', '/b/k?acl'));
    const policy = () => callsOfS3(s3('GET', '/b?policy'));

    // Assess
    expect(acl).toThrow(UnknownOperationError);
    expect(policy).toThrow(/s3 operation GET \/b is not in the action table .*\(\?policy\)/);
  });
});

describe('local IAM action table: SQS, Step Functions, Lambda', () => {
  it('maps queue operations to the queue ARN of the QueueUrl (batches to their single action)', () => {
    // Act
    const url = 'http://127.0.0.1:9324/000000000000/baton-Intake';
    const send = callsOfOperation('sqs', 'SendMessageBatch', { QueueUrl: url }, ctx);
    const del = callsOfOperation('sqs', 'DeleteMessageBatch', { QueueUrl: url }, ctx);
    const getUrl = callsOfOperation('sqs', 'GetQueueUrl', { QueueName: 'baton-Intake' }, ctx);
    const list = callsOfOperation('sqs', 'ListQueues', {}, ctx);

    // Assess
    const arn = 'arn:aws:sqs:us-east-1:000000000000:baton-Intake';
    expect(send).toEqual([{ action: 'sqs:SendMessage', resource: arn }]);
    expect(del).toEqual([{ action: 'sqs:DeleteMessage', resource: arn }]);
    expect(getUrl).toEqual([{ action: 'sqs:GetQueueUrl', resource: arn }]);
    expect(list).toEqual([{ action: 'sqs:ListQueues', resource: '*' }]);
  });

  it('authorizes SendTask* on the state machine of the token, executions on the execution ARN', () => {
    // Act
    const success = callsOfOperation('states', 'SendTaskSuccess', { taskToken: 'tok-1' }, ctx);
    const unknownToken = callsOfOperation('states', 'SendTaskFailure', { taskToken: 'tok-2' }, ctx);
    const stop = callsOfOperation('states', 'StopExecution', { executionArn: `${SM}:x` }, ctx);
    const start = callsOfOperation('states', 'StartExecution', { stateMachineArn: SM }, ctx);

    // Assess
    expect(success).toEqual([{ action: 'states:SendTaskSuccess', resource: SM }]);
    expect(unknownToken).toEqual([{ action: 'states:SendTaskFailure', resource: '*' }]);
    expect(stop).toEqual([{ action: 'states:StopExecution', resource: `${SM}:x` }]);
    expect(start).toEqual([{ action: 'states:StartExecution', resource: SM }]);
  });

  it('maps Lambda Invoke to lambda:InvokeFunction on the function ARN (by name or ARN)', () => {
    // Act
    const byName = callsOfOperation('lambda', 'Invoke', { FunctionName: 'Agentecho' }, ctx);
    const byArn = callsOfOperation(
      'lambda',
      'Invoke',
      { FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:Agentecho' },
      ctx,
    );

    // Assess
    const arn = 'arn:aws:lambda:us-east-1:000000000000:function:Agentecho';
    expect(byName).toEqual([{ action: 'lambda:InvokeFunction', resource: arn }]);
    expect(byArn).toEqual(byName);
  });

  it('treats AWSLambdaBasicExecutionRole as what it grants: CloudWatch Logs only', () => {
    // Act
    const basic = AWS_MANAGED_POLICIES['service-role/AWSLambdaBasicExecutionRole'];

    // Assess
    expect(JSON.stringify(basic)).not.toMatch(/dynamodb|s3:|sqs|states/);
    expect(basic?.Statement).toEqual([
      expect.objectContaining({
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      }),
    ]);
  });
});
