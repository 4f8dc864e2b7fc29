/**
 * The Baton stack: HTTP API, DynamoDB state store, S3 artifacts, SQS intake (+ DLQs), the
 * Standard state machine, and one Lambda per agent. Construct ids are a contract: renaming one
 * replaces the resource (and loses a table's data).
 */
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AgentEntry } from '../../lambdas/agents/registry.js';
import { TABLE_INDEXES } from '../../lambdas/adapters/store.js';
import { buildDefinition } from '../workflow/definition.js';
import { AgentFunction, BatonFunction } from './functions.js';

export interface BatonStackProps extends StackProps {
  /** Built-in and registered agents (see lambdas/agents/registry.ts). */
  agents: Map<string, AgentEntry>;
  /** Keep data when the stack is deleted (default true: RETAIN table and bucket). */
  retainData?: boolean;
}

export class BatonStack extends Stack {
  readonly table: dynamodb.TableV2;
  readonly bucket: s3.Bucket;
  readonly stateMachine: sfn.StateMachine;
  readonly api: apigw.HttpApi;

  constructor(scope: Construct, id: string, props: BatonStackProps) {
    super(scope, id, props);
    if (props.agents.size === 0) throw new Error('BatonStack needs at least one agent; check BATON_CONFIG.');
    const removalPolicy = props.retainData === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    // ---- state store
    this.table = new dynamodb.TableV2(this, 'Store', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      removalPolicy,
      localSecondaryIndexes: [
        { indexName: TABLE_INDEXES.bySeq, sortKey: { name: 'lsi1sk', type: dynamodb.AttributeType.STRING } },
      ],
      globalSecondaryIndexes: [
        {
          indexName: TABLE_INDEXES.byStatus,
          partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
        },
        {
          indexName: TABLE_INDEXES.byCreated,
          partitionKey: { name: 'gsi2pk', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'gsi2sk', type: dynamodb.AttributeType.STRING },
        },
      ],
    });

    // ---- artifacts
    this.bucket = new s3.Bucket(this, 'Artifacts', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      removalPolicy,
      autoDeleteObjects: false,
    });

    // ---- queues
    const intakeDlq = new sqs.Queue(this, 'IntakeDeadLetters', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    const intake = new sqs.Queue(this, 'Intake', {
      visibilityTimeout: Duration.seconds(180),
      retentionPeriod: Duration.days(4),
      enforceSSL: true,
      deadLetterQueue: { queue: intakeDlq, maxReceiveCount: 5 },
    });

    const taskDeadLetters = new sqs.Queue(this, 'TaskDeadLetters', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });

    const storeEnv = { TABLE_NAME: this.table.tableName, ARTIFACT_BUCKET: this.bucket.bucketName };

    // ---- agents: one function each
    const agentFns = new Map<string, AgentFunction>();
    for (const agent of props.agents.values()) {
      const fn = new AgentFunction(this, `Agent-${agent.name}`, agent, storeEnv);
      this.table.grantReadWriteData(fn);
      this.bucket.grantReadWrite(fn);
      agentFns.set(agent.name, fn);
    }
    const agentFunctions = JSON.stringify(Object.fromEntries([...agentFns].map(([n, f]) => [n, f.functionArn])));

    // ---- orchestrator
    const orchestrator = (id: string, handler: string, extra: Record<string, string> = {}) => {
      const fn = new BatonFunction(this, id, {
        entry: 'lambdas/orchestrator/handlers.ts',
        handler,
        environment: { ...storeEnv, ...extra },
        description: `Baton orchestrator: ${handler}`,
      });
      this.table.grantReadWriteData(fn);
      return fn;
    };
    const planner = orchestrator('Planner', 'planner', { BATON_AGENT_FUNCTIONS: agentFunctions });
    const gate = orchestrator('Gate', 'gate');
    const stepFailed = orchestrator('StepFailed', 'stepFailed', { BATON_AGENT_FUNCTIONS: agentFunctions });
    const complete = orchestrator('CompleteStep', 'complete');
    const finalize = orchestrator('Finalize', 'finalize', { DEAD_LETTER_QUEUE_URL: taskDeadLetters.queueUrl });
    taskDeadLetters.grantSendMessages(finalize);

    const logGroup = new logs.LogGroup(this, 'WorkflowLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A known name lets the callback functions be granted SendTask* on its ARN without a
    // reference to the state machine, which references them (a dependency cycle otherwise).
    const stateMachineName = `${this.stackName}-workflow`;
    const stateMachineArn = this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Workflow', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        buildDefinition(new Construct(this, 'States'), { planner, gate, stepFailed, complete, finalize }),
      ),
      tracingEnabled: true,
      timeout: Duration.days(7),
      logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
    for (const fn of agentFns.values()) fn.grantInvoke(this.stateMachine);
    for (const fn of [gate, stepFailed, complete]) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
          resources: [stateMachineArn],
        }),
      );
    }

    const intakeFn = orchestrator('IntakeWorker', 'intake', { STATE_MACHINE_ARN: this.stateMachine.stateMachineArn });
    this.stateMachine.grantStartExecution(intakeFn);
    intakeFn.addEventSource(
      new SqsEventSource(intake, { batchSize: 10, maxConcurrency: 5, reportBatchItemFailures: true }),
    );

    // ---- API
    const apiFn = new BatonFunction(this, 'Api', {
      entry: 'lambdas/api/handler.ts',
      handler: 'handler',
      environment: {
        ...storeEnv,
        INTAKE_QUEUE_URL: intake.queueUrl,
        STATE_MACHINE_ARN: stateMachineArn,
        BATON_AGENT_NAMES: [...agentFns.keys()].join(','),
      },
      description: 'Baton HTTP API',
    });
    this.table.grantReadWriteData(apiFn);
    this.bucket.grantRead(apiFn);
    intake.grantSendMessages(apiFn);
    // Cancel stops the task's executions.
    apiFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StopExecution', 'states:DescribeExecution'],
        resources: [
          this.formatArn({
            service: 'states',
            resource: 'execution',
            resourceName: `${stateMachineName}:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );

    const integration = new HttpLambdaIntegration('ApiIntegration', apiFn);
    this.api = new apigw.HttpApi(this, 'HttpApi', {
      description: 'Baton task API',
      defaultIntegration: integration,
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    this.api.addRoutes({
      path: '/healthz',
      methods: [apigw.HttpMethod.GET],
      integration,
      authorizer: new apigw.HttpNoneAuthorizer(),
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ArtifactBucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'IntakeDeadLetterQueueUrl', { value: intakeDlq.queueUrl });
    new CfnOutput(this, 'TaskDeadLetterQueueUrl', { value: taskDeadLetters.queueUrl });
  }
}
