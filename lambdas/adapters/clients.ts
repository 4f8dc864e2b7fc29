/**
 * AWS SDK clients, created once per Lambda container. Endpoints come from the SDK's standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, so local mode changes nothing here.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '../shared/observability.js';
import { DOCUMENT_MARSHALLING } from './dynamodb/table.js';

/** X-Ray subsegments per SDK call, and the trace header on each request (no-op with tracing off). */
const traced = <C>(client: C): C => tracer.captureAWSv3Client(client);

let ddb: DynamoDBDocumentClient | undefined;
let s3: S3Client | undefined;
let sfn: SFNClient | undefined;
let sqs: SQSClient | undefined;
let lambda: LambdaClient | undefined;

export function documentClient(): DynamoDBDocumentClient {
  ddb ??= DynamoDBDocumentClient.from(traced(new DynamoDBClient({})), DOCUMENT_MARSHALLING);
  return ddb;
}

export function s3Client(): S3Client {
  // Path-style addressing only where an S3 endpoint is overridden (local emulator).
  s3 ??= traced(new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) }));
  return s3;
}

export function sfnClient(): SFNClient {
  sfn ??= traced(new SFNClient({}));
  return sfn;
}

export function sqsClient(): SQSClient {
  sqs ??= traced(new SQSClient({}));
  return sqs;
}

export function lambdaClient(): LambdaClient {
  // A synchronous agent invocation lasts as long as the agent runs (up to 15 minutes): no retry of
  // a call that may have run (a retried attempt is Step Functions' decision, not the SDK's).
  lambda ??= traced(new LambdaClient({ maxAttempts: 1 }));
  return lambda;
}
