/**
 * The one table of local IAM: every API operation Baton's code and the emulators see, mapped to
 * the IAM action(s) AWS authorizes it with and the resource ARN(s) it is authorized on (from the
 * Service Authorization Reference: DynamoDB, S3, SQS, Step Functions, Lambda).
 *
 * An operation that is not in the table is refused (`UnknownOperationError`), never allowed.
 *
 * `wildcardOnly`: the Service Authorization Reference lists no resource type for the action, so
 * a policy must grant it on "*" (ListTables, ListAllMyBuckets, ListQueues, ListStateMachines).
 * `SendTaskSuccess/Failure/Heartbeat` are listed without a resource type too, but Step Functions
 * does authorize them on the state machine of the token's execution (its AccessDenied message
 * names that ARN, and `grant` on the state machine ARN works); locally they are evaluated on that
 * ARN (see `RESOURCE_EVALUATED_DESPITE_REFERENCE`).
 */
import { BatonError, ErrorNames } from '../../../lambdas/core/errors.js';

export type IamService = 'dynamodb' | 's3' | 'sqs' | 'states' | 'lambda';

/** One authorization AWS makes for a request: this action on this resource. */
export interface IamCall {
  action: string;
  resource: string;
}

/** Where ARNs live: region and account of the emulated services. */
export interface ArnContext {
  region: string;
  account: string;
  /** The state machine ARN of a task token's execution (undefined: unknown or closed token). */
  stateMachineOfToken?: (token: string) => string | undefined;
}

/** An operation the table does not know: refused with this message. */
export class UnknownOperationError extends BatonError {
  readonly service: IamService;
  readonly operation: string;
  constructor(service: IamService, operation: string, detail = '') {
    super(
      `Local IAM: ${service} operation ${operation} is not in the action table (lib/local/iam/actions.ts)${detail}; it is denied`,
    );
    this.name = ErrorNames.LocalAccessDenied;
    this.service = service;
    this.operation = operation;
  }
}

/** Actions iam-data lists as "*"-only but AWS evaluates on a resource (see the module comment). */
export const RESOURCE_EVALUATED_DESPITE_REFERENCE: ReadonlySet<string> = new Set([
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'states:SendTaskHeartbeat',
]);

type Body = Record<string, unknown>;
type Mapper = (input: Body, ctx: ArnContext) => IamCall[];

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Body => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Body) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

// ---------------------------------------------------------------------------------------- DynamoDB

export const tableArn = (ctx: ArnContext, table: string) =>
  `arn:aws:dynamodb:${ctx.region}:${ctx.account}:table/${table}`;
const onTable =
  (action: string): Mapper =>
  (b, ctx) => [{ action, resource: tableArn(ctx, str(b.TableName)) }];
/** Query and Scan on an index are authorized on the index's ARN. */
const onTableOrIndex =
  (action: string): Mapper =>
  (b, ctx) => [
    {
      action,
      resource: b.IndexName
        ? `${tableArn(ctx, str(b.TableName))}/index/${str(b.IndexName)}`
        : tableArn(ctx, str(b.TableName)),
    },
  ];
const perRequestTable =
  (action: string): Mapper =>
  (b, ctx) =>
    Object.keys(obj(b.RequestItems)).map((t) => ({ action, resource: tableArn(ctx, t) }));
const TRANSACT_WRITE: Record<string, string> = {
  ConditionCheck: 'dynamodb:ConditionCheckItem',
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
};

export const DYNAMODB: Readonly<Record<string, Mapper>> = {
  GetItem: onTable('dynamodb:GetItem'),
  PutItem: onTable('dynamodb:PutItem'),
  UpdateItem: onTable('dynamodb:UpdateItem'),
  DeleteItem: onTable('dynamodb:DeleteItem'),
  Query: onTableOrIndex('dynamodb:Query'),
  Scan: onTableOrIndex('dynamodb:Scan'),
  BatchGetItem: perRequestTable('dynamodb:BatchGetItem'),
  BatchWriteItem: perRequestTable('dynamodb:BatchWriteItem'),
  TransactWriteItems: (b, ctx) =>
    list(b.TransactItems).flatMap((item) =>
      Object.entries(obj(item)).map(([kind, op]) => {
        const action = TRANSACT_WRITE[kind];
        if (!action) throw new UnknownOperationError('dynamodb', `TransactWriteItems.${kind}`);
        return { action, resource: tableArn(ctx, str(obj(op).TableName)) };
      }),
    ),
  TransactGetItems: (b, ctx) =>
    list(b.TransactItems).map((item) => ({
      action: 'dynamodb:GetItem',
      resource: tableArn(ctx, str(obj(obj(item).Get).TableName)),
    })),
  DescribeTable: onTable('dynamodb:DescribeTable'),
  CreateTable: onTable('dynamodb:CreateTable'),
  DeleteTable: onTable('dynamodb:DeleteTable'),
  UpdateTable: onTable('dynamodb:UpdateTable'),
  DescribeTimeToLive: onTable('dynamodb:DescribeTimeToLive'),
  UpdateTimeToLive: onTable('dynamodb:UpdateTimeToLive'),
  ListTables: () => [{ action: 'dynamodb:ListTables', resource: '*' }],
};

// ---------------------------------------------------------------------------------------- S3

const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;
const objectArn = (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`;

/** An S3 REST request after routing: the operation and what it names. */
export interface S3Request {
  method: string;
  bucket?: string;
  key?: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
}

type S3Mapper = (r: S3Request & { bucket: string; key: string }) => IamCall[];

export const S3: Readonly<Record<string, S3Mapper>> = {
  ListBuckets: () => [{ action: 's3:ListAllMyBuckets', resource: '*' }],
  CreateBucket: (r) => [{ action: 's3:CreateBucket', resource: bucketArn(r.bucket) }],
  DeleteBucket: (r) => [{ action: 's3:DeleteBucket', resource: bucketArn(r.bucket) }],
  HeadBucket: (r) => [{ action: 's3:ListBucket', resource: bucketArn(r.bucket) }],
  ListObjects: (r) => [{ action: 's3:ListBucket', resource: bucketArn(r.bucket) }],
  ListObjectsV2: (r) => [{ action: 's3:ListBucket', resource: bucketArn(r.bucket) }],
  ListObjectVersions: (r) => [{ action: 's3:ListBucketVersions', resource: bucketArn(r.bucket) }],
  GetBucketLocation: (r) => [{ action: 's3:GetBucketLocation', resource: bucketArn(r.bucket) }],
  GetObject: (r) => [{ action: 's3:GetObject', resource: objectArn(r.bucket, r.key) }],
  GetObjectVersion: (r) => [{ action: 's3:GetObjectVersion', resource: objectArn(r.bucket, r.key) }],
  HeadObject: (r) => [{ action: 's3:GetObject', resource: objectArn(r.bucket, r.key) }],
  GetObjectTagging: (r) => [{ action: 's3:GetObjectTagging', resource: objectArn(r.bucket, r.key) }],
  PutObject: (r) => [{ action: 's3:PutObject', resource: objectArn(r.bucket, r.key) }],
  PutObjectTagging: (r) => [{ action: 's3:PutObjectTagging', resource: objectArn(r.bucket, r.key) }],
  /** CopyObject reads the source and writes the destination. */
  CopyObject: (r) => {
    const source = decodeURIComponent((r.headers['x-amz-copy-source'] ?? '').split('?')[0] ?? '').replace(
      /^\//,
      '',
    );
    return [
      { action: 's3:GetObject', resource: `arn:aws:s3:::${source}` },
      { action: 's3:PutObject', resource: objectArn(r.bucket, r.key) },
    ];
  },
  CreateMultipartUpload: (r) => [{ action: 's3:PutObject', resource: objectArn(r.bucket, r.key) }],
  UploadPart: (r) => [{ action: 's3:PutObject', resource: objectArn(r.bucket, r.key) }],
  CompleteMultipartUpload: (r) => [{ action: 's3:PutObject', resource: objectArn(r.bucket, r.key) }],
  AbortMultipartUpload: (r) => [{ action: 's3:AbortMultipartUpload', resource: objectArn(r.bucket, r.key) }],
  DeleteObject: (r) => [{ action: 's3:DeleteObject', resource: objectArn(r.bucket, r.key) }],
  DeleteObjectVersion: (r) => [{ action: 's3:DeleteObjectVersion', resource: objectArn(r.bucket, r.key) }],
  /** DeleteObjects is authorized as s3:DeleteObject on every key it names. */
  DeleteObjects: (r) =>
    [...r.body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => ({
      action: 's3:DeleteObject',
      resource: objectArn(r.bucket, xmlUnescape(m[1] ?? '')),
    })),
};

function xmlUnescape(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Query parameters that do not change the operation (presigning, response overrides, paging). */
const S3_NEUTRAL_QUERY =
  /^(x-amz-|x-id$|list-type$|prefix$|delimiter$|max-keys$|marker$|continuation-token$|start-after$|fetch-owner$|encoding-type$|response-|partNumber$)/i;

/** Which S3 operation a path-style REST request is. */
export function s3Operation(r: S3Request): string {
  const q = r.query;
  const sub = [...q.keys()].filter((k) => !S3_NEUTRAL_QUERY.test(k) && k !== 'versionId' && k !== 'uploadId');
  const unknown = (what: string) => {
    throw new UnknownOperationError('s3', `${r.method} ${what}`, sub.length ? ` (?${sub.join('&')})` : '');
  };
  if (!r.bucket) return r.method === 'GET' && sub.length === 0 ? 'ListBuckets' : unknown('/');
  if (!r.key) {
    if (r.method === 'POST' && sub.length === 1 && sub[0] === 'delete') return 'DeleteObjects';
    if (sub.length === 1 && sub[0] === 'location' && r.method === 'GET') return 'GetBucketLocation';
    if (sub.length === 1 && sub[0] === 'versions' && r.method === 'GET') return 'ListObjectVersions';
    if (sub.length > 0) return unknown(`/${r.bucket}`);
    switch (r.method) {
      case 'PUT':
        return 'CreateBucket';
      case 'DELETE':
        return 'DeleteBucket';
      case 'HEAD':
        return 'HeadBucket';
      case 'GET':
        return q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      default:
        return unknown(`/${r.bucket}`);
    }
  }
  const versioned = q.has('versionId');
  if (sub.length === 1 && sub[0] === 'tagging') {
    if (r.method === 'GET') return 'GetObjectTagging';
    if (r.method === 'PUT') return 'PutObjectTagging';
  }
  if (sub.length === 1 && sub[0] === 'uploads' && r.method === 'POST') return 'CreateMultipartUpload';
  if (sub.length > 0) return unknown(`/${r.bucket}/${r.key}`);
  switch (r.method) {
    case 'GET':
      return versioned ? 'GetObjectVersion' : 'GetObject';
    case 'HEAD':
      return versioned ? 'GetObjectVersion' : 'HeadObject';
    case 'PUT':
      if (q.has('uploadId')) return 'UploadPart';
      return r.headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
    case 'POST':
      return q.has('uploadId') ? 'CompleteMultipartUpload' : unknown(`/${r.bucket}/${r.key}`);
    case 'DELETE':
      if (q.has('uploadId')) return 'AbortMultipartUpload';
      return versioned ? 'DeleteObjectVersion' : 'DeleteObject';
    default:
      return unknown(`/${r.bucket}/${r.key}`);
  }
}

// ---------------------------------------------------------------------------------------- SQS

export const queueArnOfUrl = (ctx: ArnContext, url: string) =>
  `arn:aws:sqs:${ctx.region}:${ctx.account}:${url.split('/').filter(Boolean).at(-1) ?? ''}`;
const onQueue =
  (action: string): Mapper =>
  (b, ctx) => [{ action, resource: queueArnOfUrl(ctx, str(b.QueueUrl)) }];
const onQueueName =
  (action: string): Mapper =>
  (b, ctx) => [{ action, resource: `arn:aws:sqs:${ctx.region}:${ctx.account}:${str(b.QueueName)}` }];

export const SQS: Readonly<Record<string, Mapper>> = {
  SendMessage: onQueue('sqs:SendMessage'),
  SendMessageBatch: onQueue('sqs:SendMessage'),
  ReceiveMessage: onQueue('sqs:ReceiveMessage'),
  DeleteMessage: onQueue('sqs:DeleteMessage'),
  DeleteMessageBatch: onQueue('sqs:DeleteMessage'),
  ChangeMessageVisibility: onQueue('sqs:ChangeMessageVisibility'),
  ChangeMessageVisibilityBatch: onQueue('sqs:ChangeMessageVisibility'),
  GetQueueAttributes: onQueue('sqs:GetQueueAttributes'),
  SetQueueAttributes: onQueue('sqs:SetQueueAttributes'),
  PurgeQueue: onQueue('sqs:PurgeQueue'),
  DeleteQueue: onQueue('sqs:DeleteQueue'),
  ListQueueTags: onQueue('sqs:ListQueueTags'),
  ListDeadLetterSourceQueues: onQueue('sqs:ListDeadLetterSourceQueues'),
  GetQueueUrl: onQueueName('sqs:GetQueueUrl'),
  CreateQueue: onQueueName('sqs:CreateQueue'),
  ListQueues: () => [{ action: 'sqs:ListQueues', resource: '*' }],
};

// ---------------------------------------------------------------------------------------- Step Functions

const onStateMachine =
  (action: string): Mapper =>
  (b) => [{ action, resource: str(b.stateMachineArn) }];
const onExecution =
  (action: string): Mapper =>
  (b) => [{ action, resource: str(b.executionArn) }];
/** The state machine of the token's execution; an unknown token is checked against "*". */
const onTokenMachine =
  (action: string): Mapper =>
  (b, ctx) => [{ action, resource: ctx.stateMachineOfToken?.(str(b.taskToken)) ?? '*' }];

export const STATES: Readonly<Record<string, Mapper>> = {
  StartExecution: onStateMachine('states:StartExecution'),
  StartSyncExecution: onStateMachine('states:StartSyncExecution'),
  ListExecutions: onStateMachine('states:ListExecutions'),
  DescribeStateMachine: onStateMachine('states:DescribeStateMachine'),
  DescribeExecution: onExecution('states:DescribeExecution'),
  StopExecution: onExecution('states:StopExecution'),
  GetExecutionHistory: onExecution('states:GetExecutionHistory'),
  DescribeStateMachineForExecution: onExecution('states:DescribeStateMachineForExecution'),
  RedriveExecution: onExecution('states:RedriveExecution'),
  DescribeMapRun: (b) => [{ action: 'states:DescribeMapRun', resource: str(b.mapRunArn) }],
  ListMapRuns: onExecution('states:ListMapRuns'),
  SendTaskSuccess: onTokenMachine('states:SendTaskSuccess'),
  SendTaskFailure: onTokenMachine('states:SendTaskFailure'),
  SendTaskHeartbeat: onTokenMachine('states:SendTaskHeartbeat'),
  ListStateMachines: () => [{ action: 'states:ListStateMachines', resource: '*' }],
};

// ---------------------------------------------------------------------------------------- Lambda

export const functionArn = (ctx: ArnContext, nameOrArn: string) =>
  nameOrArn.startsWith('arn:')
    ? nameOrArn
    : `arn:aws:lambda:${ctx.region}:${ctx.account}:function:${nameOrArn}`;

export const LAMBDA: Readonly<Record<string, Mapper>> = {
  Invoke: (b, ctx) => [{ action: 'lambda:InvokeFunction', resource: functionArn(ctx, str(b.FunctionName)) }],
  InvokeAsync: (b, ctx) => [
    { action: 'lambda:InvokeFunction', resource: functionArn(ctx, str(b.FunctionName)) },
  ],
  GetFunction: (b, ctx) => [
    { action: 'lambda:GetFunction', resource: functionArn(ctx, str(b.FunctionName)) },
  ],
  ListFunctions: () => [{ action: 'lambda:ListFunctions', resource: '*' }],
};

const JSON_TABLES: Readonly<Record<Exclude<IamService, 's3'>, Readonly<Record<string, Mapper>>>> = {
  dynamodb: DYNAMODB,
  sqs: SQS,
  states: STATES,
  lambda: LAMBDA,
};

/** The IAM calls of a JSON-protocol operation (DynamoDB, SQS, Step Functions, Lambda). */
export function callsOfOperation(
  service: Exclude<IamService, 's3'>,
  operation: string,
  input: Body,
  ctx: ArnContext,
): IamCall[] {
  const mapper = Object.hasOwn(JSON_TABLES[service], operation) ? JSON_TABLES[service][operation] : undefined;
  if (!mapper) throw new UnknownOperationError(service, operation);
  return mapper(input, ctx);
}

/** The IAM calls of an S3 REST request (path-style). */
export function callsOfS3(r: S3Request): { operation: string; calls: IamCall[] } {
  const operation = s3Operation(r);
  const mapper = S3[operation];
  if (!mapper) throw new UnknownOperationError('s3', operation);
  return { operation, calls: mapper({ ...r, bucket: r.bucket ?? '', key: r.key ?? '' }) };
}

/** Splits a path-style S3 request path into bucket and key (the key URL-decoded). */
export function s3Target(path: string): { bucket?: string; key?: string } {
  const rest = path.replace(/^\//, '');
  if (rest === '') return {};
  const slash = rest.indexOf('/');
  if (slash < 0) return { bucket: decodeURIComponent(rest) };
  const key = decodeURIComponent(rest.slice(slash + 1));
  return { bucket: decodeURIComponent(rest.slice(0, slash)), ...(key ? { key } : {}) };
}
