/**
 * The functions of fan-out steps (lib/workflow/fan-out.ts), each with its own least-privilege
 * grants: PrepareItems and CollectItems (orchestrator), ItemsFailed (orchestrator, table only)
 * and the item runner (the step runner's item mode: the only one that invokes agents here).
 * No agent function gets anything: the item runner does every read and write of an item.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FUNCTION_ENV } from '../../lambdas/core/env.js';
import type { FanOutFunctions } from '../workflow/fan-out.js';
import { BatonFunction, environment } from './functions.js';

export interface FanOutFunctionsProps {
  table: dynamodb.ITableV2;
  bucket: s3.IBucket;
  /** The agent functions the item runner invokes. */
  agents: readonly lambda.IFunction[];
  /** Buckets an `s3://` items source may name: PrepareItems may list them (default none). */
  sourceBuckets?: readonly string[];
}

/** Where task objects live in the artifact bucket (artifacts, uploads, fan-out objects). */
export const TASK_OBJECTS = 'tasks/*';

export class FanOutLambdas extends Construct implements FanOutFunctions {
  readonly prepareItems: BatonFunction;
  readonly itemRunner: BatonFunction;
  readonly itemsFailed: BatonFunction;
  readonly collectItems: BatonFunction;

  constructor(scope: Construct, id: string, props: FanOutFunctionsProps) {
    super(scope, id);
    const { table, bucket } = props;
    const tableEnv = { TABLE_NAME: table.tableName };
    const storeEnv = { ...tableEnv, ARTIFACT_BUCKET: bucket.bucketName };
    const sources = props.sourceBuckets ?? [];
    const fn = (name: string, entry: string, handler: string, env: Record<string, string>, extra = {}) =>
      new BatonFunction(scope, name, {
        entry,
        handler,
        environment: env,
        description: `Baton fan-out: ${handler}`,
        ...extra,
      });
    this.prepareItems = fn(
      'PrepareItems',
      'lambdas/orchestrator/functions/prepare-items.ts',
      'prepareItems',
      environment(FUNCTION_ENV.prepareItems, {
        ...storeEnv,
        ...(sources.length ? { FANOUT_SOURCE_BUCKETS: sources.join(',') } : {}),
      }),
      // Reads an upstream artifact (up to 10 MiB) and writes the items object (10,000 items).
      { timeout: Duration.seconds(60), memorySize: 1024 },
    );
    this.collectItems = fn(
      'CollectItems',
      'lambdas/orchestrator/functions/collect-items.ts',
      'collectItems',
      environment(FUNCTION_ENV.collectItems, storeEnv),
      // Reads every result file of the map run and writes results.jsonl.
      { timeout: Duration.seconds(60), memorySize: 2048 },
    );
    this.itemsFailed = fn(
      'ItemsFailed',
      'lambdas/orchestrator/functions/items-failed.ts',
      'itemsFailed',
      environment(FUNCTION_ENV.itemsFailed, tableEnv),
    );
    this.itemRunner = fn(
      'ItemRunner',
      'lambdas/agents/item-runner-lambda.ts',
      'itemRunner',
      environment(FUNCTION_ENV.itemRunner, storeEnv),
      // It waits for the agents of its batch (a step's timeout is at most 15 minutes).
      { timeout: Duration.seconds(900), memorySize: 1024 },
    );

    // The table: reads, appends (conditional puts) and counters; no deletes, no scans.
    const tableAccess = new iam.PolicyStatement({
      actions: [
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ],
      resources: [table.tableArn, `${table.tableArn}/index/*`],
    });
    for (const f of [this.prepareItems, this.collectItems, this.itemsFailed, this.itemRunner])
      f.addToRolePolicy(tableAccess);
    // PrepareItems: reads upstream artifacts and earlier runs' objects, writes the items object.
    bucket.grantRead(this.prepareItems, TASK_OBJECTS);
    bucket.grantPut(this.prepareItems, TASK_OBJECTS);
    // CollectItems: lists and reads the ResultWriter's files, writes results.jsonl.
    bucket.grantRead(this.collectItems, TASK_OBJECTS);
    bucket.grantPut(this.collectItems, TASK_OBJECTS);
    // The item runner signs GETs of the step's upstream artifacts (what the agent may read).
    bucket.grantRead(this.itemRunner, TASK_OBJECTS);
    for (const agent of props.agents) agent.grantInvoke(this.itemRunner);
    if (sources.length) {
      this.prepareItems.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: sources.map((b) => `arn:${Stack.of(scope).partition}:s3:::${b}`),
        }),
      );
    }
  }

  /** The roles that release dependents' gates (task-token callbacks on the state machine). */
  get completingRoles(): iam.IRole[] {
    return [this.prepareItems, this.collectItems].map((f) => {
      if (!f.role) throw new Error(`Function ${f.node.id} has no role`);
      return f.role;
    });
  }
}
