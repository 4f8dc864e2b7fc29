/**
 * The Baton stack: HTTP API, DynamoDB state store, S3 artifacts, SQS intake (+ DLQs), the
 * Standard state machine, the step runner and one Lambda per agent (which holds no Baton
 * permission: docs/SECURITY.md), and the approval plumbing (SNS topic for
 * approvers, SSM SecureString for the link-signing secret). Construct ids are a contract:
 * renaming one replaces the resource (and loses a table's data).
 */
import { CfnOutput, Duration, Lazy, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaDestinations from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TABLE_INDEXES } from '../../lambdas/adapters/store.js';
import type { AgentEntry } from '../../lambdas/agents/registry.js';
import { PUBLIC_ROUTES, routeKeyOf } from '../../lambdas/api/route-guard.js';
import { WORKFLOW_TIMING } from '../../lambdas/core/bounds.js';
import { FUNCTION_ENV } from '../../lambdas/core/env.js';
import { EXECUTION_STATUS_CHANGE, UNRECONCILED_STATUSES } from '../../lambdas/core/execution-status.js';
import { agentFunctionName, agentFunctionPrefix } from '../../lambdas/core/ids.js';
import type { ModelConfig } from '../../lambdas/models/index.js';
import { buildDefinition } from '../workflow/definition.js';
import { grantFanOutObjects } from '../workflow/fan-out.js';
import { assertNoInlineSecrets, deployedSettings } from './agent-settings.js';
import { ConsoleHosting } from './console.js';
import { FanOutLambdas } from './fanout.js';
import { AgentFunction, BatonFunction, environment } from './functions.js';
import { BatonObservability } from './observability.js';

/** The whole API (the stage's default route settings). */
export const API_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;
/** Each unauthenticated route (health check, approval links): requests per second and burst. */
export const PUBLIC_ROUTE_THROTTLE = { rateLimit: 10, burstLimit: 20 } as const;

export interface BatonStackProps extends StackProps {
  /** Built-in and registered agents (see lambdas/agents/registry.ts). */
  agents: Map<string, AgentEntry>;
  /** Keep data when the stack is deleted (default true: RETAIN table and bucket). */
  retainData?: boolean;
  /**
   * Name of the SSM SecureString parameter holding the approval link-signing secret(s) (default
   * `/<stack name>/approval-signing-secret`). The operator creates it once before approvals are
   * used, e.g. `aws ssm put-parameter --type SecureString --name <name> --value "$(openssl rand -hex 32)"`;
   * CloudFormation cannot create SecureStrings and a generated value would sit in the template.
   */
  approvalSecretParameterName?: string;
  /**
   * The deployment's model for the agents and the planner (default: the offline, deterministic
   * provider). An agent's own `model` setting is laid over it.
   */
  modelConfig?: ModelConfig;
  /**
   * Base URL of approval links (e.g. a custom domain of the API). Default: the HTTP API's URL.
   * Context `baton:publicUrl` or env BATON_PUBLIC_URL at synth time set it too (bin/app.ts).
   */
  publicUrl?: string;
  /**
   * How long a task may stay QUEUED before the intake sweeper sends its start again (default 300 s;
   * the config's `intake.sweepAfterSeconds`). A start sent twice starts one execution.
   */
  intakeSweepAfterSeconds?: number;
  /**
   * Buckets a fan-out step's `forEach.items: "s3://<bucket>/<prefix>"` may name: PrepareItems may
   * list them (one item per object). Default none.
   */
  fanOutSourceBuckets?: readonly string[];
}

/** The Lambda entry of an orchestrator function: `lambdas/orchestrator/functions/<kebab-case name>.ts`. */
function entryOf(name: string): string {
  return `lambdas/orchestrator/functions/${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.ts`;
}

/** The Planner's entry for the deployment's model: `planner` (offline) or `planner-<provider>`. */
function plannerEntry(model?: ModelConfig): string {
  return !model || model.provider === 'offline' ? 'planner' : `planner-${model.provider}`;
}

export class BatonStack extends Stack {
  readonly table: dynamodb.TableV2;
  readonly bucket: s3.Bucket;
  readonly stateMachine: sfn.StateMachine;
  readonly api: apigw.HttpApi;
  readonly approvalTopic: sns.Topic;
  readonly approvalSecretParameterName: string;
  readonly console: ConsoleHosting;

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
      // The table holds every task's audit trail: deleting it takes turning this off first
      // (unless retainData is false, which asks for a stack that deletes its data).
      deletionProtection: props.retainData !== false,
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
    const accessLogs = new s3.Bucket(this, 'ArtifactAccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      removalPolicy,
      lifecycleRules: [{ expiration: Duration.days(365) }],
    });
    this.bucket = new s3.Bucket(this, 'Artifacts', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      removalPolicy,
      autoDeleteObjects: false,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'artifacts/',
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

    const tableEnv = { TABLE_NAME: this.table.tableName };
    const storeEnv = { ...tableEnv, ARTIFACT_BUCKET: this.bucket.bucketName };

    // ---- approvals: who is told, and the secret links are signed with
    this.approvalTopic = new sns.Topic(this, 'ApprovalRequests', {
      displayName: 'Baton approval requests',
      enforceSSL: true,
    });
    this.approvalSecretParameterName =
      props.approvalSecretParameterName ?? `/${this.stackName}/approval-signing-secret`;
    if (!this.approvalSecretParameterName.startsWith('/')) {
      throw new Error(
        `approvalSecretParameterName must be a path such as /baton/approval-signing-secret (got "${this.approvalSecretParameterName}").`,
      );
    }
    const approvalSecretArn = this.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: this.approvalSecretParameterName.slice(1),
    });
    const readApprovalSecret = new iam.PolicyStatement({
      actions: ['ssm:GetParameter'],
      resources: [approvalSecretArn],
    });
    const approvalSecretEnv = { BATON_APPROVAL_SECRET_PARAM: this.approvalSecretParameterName };

    // ---- agents: one function each
    const agentFns = new Map<string, AgentFunction>();
    const modelEnv: { BATON_MODEL_CONFIG?: string } = props.modelConfig
      ? { BATON_MODEL_CONFIG: JSON.stringify(props.modelConfig) }
      : {};
    const usesBedrock = (override?: { provider?: string }) =>
      (override?.provider ?? props.modelConfig?.provider) === 'bedrock';
    const grantBedrock = (fn: lambda.IFunction) =>
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
          resources: [
            `arn:${this.partition}:bedrock:*::foundation-model/*`,
            `arn:${this.partition}:bedrock:${this.region}:${this.account}:inference-profile/*`,
          ],
        }),
      );
    if (props.modelConfig) assertNoInlineSecrets('modelConfig', { model: props.modelConfig });
    // Agent functions are named by a rule (ids.ts), so the orchestrator derives them from agent names.
    const agentPrefix = agentFunctionPrefix(this.stackName);
    for (const agent of props.agents.values()) {
      assertNoInlineSecrets(`agents.${agent.name}`, { settings: agent.settings });
      // Each agent function carries only its own settings (Lambda environments are capped at 4 KB),
      // and the folders they name, copied into its bundle.
      const deployed = deployedSettings(agent.settings);
      const fn = new AgentFunction(
        this,
        `Agent-${agent.name}`,
        agent,
        agentFunctionName(agentPrefix, agent.name),
        environment(FUNCTION_ENV.agent, {
          ...modelEnv,
          BATON_AGENT_SETTINGS: JSON.stringify({ [agent.name]: deployed.settings }),
        }),
        deployed.files,
        props.modelConfig,
      );
      // No grant of Baton's: the step runner does the agent's reads and writes (docs/SECURITY.md).
      if (usesBedrock(agent.settings.model)) grantBedrock(fn);
      agentFns.set(agent.name, fn);
    }
    // ---- the step runner: the one function that invokes agents, and does their I/O for them
    const stepRunner = new BatonFunction(this, 'StepRunner', {
      entry: 'lambdas/agents/runner-lambda.ts',
      handler: 'stepRunner',
      // It waits for the agent it runs (a step's timeout is at most 15 minutes).
      timeout: Duration.seconds(900),
      memorySize: 1024,
      environment: environment(FUNCTION_ENV.stepRunner, storeEnv),
      description: 'Baton step runner: runs an attempt on its agent function, checks and writes what it made',
    });
    this.table.grantReadWriteData(stepRunner);
    // Reads upstream artifacts (and signs GETs of them), writes and signs PUTs of the attempt's own; no deletes.
    this.bucket.grantRead(stepRunner);
    this.bucket.grantPut(stepRunner);
    for (const fn of agentFns.values()) fn.grantInvoke(stepRunner);

    const agentFunctionVars = {
      BATON_AGENT_NAMES: [...agentFns.keys()].join(','),
      BATON_AGENT_FUNCTION_PREFIX: agentPrefix,
    };

    // Base URL of approval links: the HTTP API's, made below (resolved at synth).
    const publicUrl = props.publicUrl ?? Lazy.string({ produce: () => this.api.apiEndpoint });

    // ---- orchestrator
    // The functions the state machine calls cannot name it (a dependency cycle): they answer task
    // tokens, which need no ARN. The intake worker and the API, which start and stop executions, get it.
    // Each function has an entry of its own (lambdas/orchestrator/functions/<name>.ts): its bundle
    // carries its use case and the adapters it wires, nothing of the others'.
    const orchestratorEnv = { ...tableEnv };
    const orchestrator = (
      id: string,
      handler: string,
      env: Record<string, string>,
      entry = entryOf(handler),
    ) => {
      const fn = new BatonFunction(this, id, {
        entry,
        handler,
        environment: env,
        description: `Baton orchestrator: ${handler}`,
      });
      this.table.grantReadWriteData(fn);
      return fn;
    };
    const planner = orchestrator(
      'Planner',
      'planner',
      environment(FUNCTION_ENV.planner, {
        ...orchestratorEnv,
        ...agentFunctionVars,
        ...modelEnv,
      }),
      // The Planner's bundle carries the deployment model's provider and no other.
      entryOf(plannerEntry(props.modelConfig)),
    );
    if (usesBedrock()) grantBedrock(planner);
    const gate = orchestrator('Gate', 'gate', environment(FUNCTION_ENV.gate, orchestratorEnv));
    const stepFailed = orchestrator(
      'StepFailed',
      'stepFailed',
      environment(FUNCTION_ENV.stepFailed, { ...orchestratorEnv, ...agentFunctionVars }),
    );
    const finalize = orchestrator(
      'Finalize',
      'finalize',
      environment(FUNCTION_ENV.finalize, {
        ...orchestratorEnv,
        DEAD_LETTER_QUEUE_URL: taskDeadLetters.queueUrl,
      }),
    );
    taskDeadLetters.grantSendMessages(finalize);
    const requestApproval = orchestrator(
      'RequestApproval',
      'requestApproval',
      environment(FUNCTION_ENV.requestApproval, {
        ...orchestratorEnv,
        ...approvalSecretEnv,
        APPROVAL_TOPIC_ARN: this.approvalTopic.topicArn,
        BATON_PUBLIC_URL: publicUrl,
      }),
    );
    this.approvalTopic.grantPublish(requestApproval);
    requestApproval.addToRolePolicy(readApprovalSecret);
    const resolveApproval = orchestrator(
      'ResolveApproval',
      'resolveApproval',
      environment(FUNCTION_ENV.resolveApproval, orchestratorEnv),
    );

    // ---- fan-out steps (forEach): PrepareItems, the item runner, ItemsFailed, CollectItems (lib/aws/fanout.ts)
    const fanOut = new FanOutLambdas(this, 'FanOut', {
      table: this.table,
      bucket: this.bucket,
      agents: [...agentFns.values()],
      ...(props.fanOutSourceBuckets ? { sourceBuckets: props.fanOutSourceBuckets } : {}),
    });

    const logGroup = new logs.LogGroup(this, 'WorkflowLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // No fixed name: CloudFormation names it, so an update that replaces it does not collide.
    this.stateMachine = new sfn.StateMachine(this, 'Workflow', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        buildDefinition(new Construct(this, 'States'), {
          planner,
          gate,
          stepFailed,
          finalize,
          requestApproval,
          resolveApproval,
          stepRunner,
          prepareItems: fanOut.prepareItems,
          itemRunner: fanOut.itemRunner,
          itemsFailed: fanOut.itemsFailed,
          collectItems: fanOut.collectItems,
        }),
      ),
      tracingEnabled: true,
      timeout: Duration.seconds(WORKFLOW_TIMING.executionTimeoutSeconds),
      // Every state transition is logged, without execution data: gate payloads hold task tokens.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // The state machine invokes the step runner (and the item runner), never an agent function.
    stepRunner.grantInvoke(this.stateMachine);
    fanOut.itemRunner.grantInvoke(this.stateMachine);
    // Its Distributed Maps read their items objects and write their results, nothing else of the bucket.
    grantFanOutObjects(this.stateMachine, this.bucket);
    // Whoever ends a step releases its dependents' gates; approvals answer their own tokens. A
    // policy of its own, not the functions' default policies: the state machine refers to those
    // functions, so their default policies cannot refer to it (CloudFormation would see a cycle).
    new iam.Policy(this, 'TaskTokenCallbacks', {
      statements: [
        new iam.PolicyStatement({
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
          resources: [this.stateMachine.stateMachineArn],
        }),
      ],
      roles: [
        ...[gate, stepFailed, stepRunner, requestApproval, resolveApproval, finalize].map((fn) => {
          if (!fn.role) throw new Error(`Function ${fn.node.id} has no role`);
          return fn.role;
        }),
        ...fanOut.completingRoles,
      ],
    });

    // ---- reconciler: an execution that ends outside Baton (timed out, stopped, failed) ends its task
    // FAILED with a dead letter. Status changes reach it through EventBridge; what cannot be
    // delivered (EventBridge's retries, then Lambda's) waits in ReconcilerDeadLetters with the event.
    const reconcilerDeadLetters = new sqs.Queue(this, 'ReconcilerDeadLetters', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    const reconciler = new BatonFunction(this, 'Reconciler', {
      entry: entryOf('reconcile'),
      handler: 'reconcile',
      environment: environment(FUNCTION_ENV.reconcile, {
        ...tableEnv,
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        DEAD_LETTER_QUEUE_URL: taskDeadLetters.queueUrl,
      }),
      description: 'Baton orchestrator: reconcile',
    });
    // Reads the task's items, appends events and results, writes the dead letter, closes gates.
    reconciler.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn, `${this.table.tableArn}/index/*`],
      }),
    );
    taskDeadLetters.grantSendMessages(reconciler);
    reconciler.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new lambdaDestinations.SqsDestination(reconcilerDeadLetters),
    });
    new events.Rule(this, 'ExecutionStatusChanges', {
      description: 'Executions of the Baton workflow that timed out, were stopped or failed',
      eventPattern: {
        source: [EXECUTION_STATUS_CHANGE.source],
        detailType: [EXECUTION_STATUS_CHANGE.detailType],
        detail: { stateMachineArn: [this.stateMachine.stateMachineArn], status: [...UNRECONCILED_STATUSES] },
      },
      targets: [
        new eventTargets.LambdaFunction(reconciler, {
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
          deadLetterQueue: reconcilerDeadLetters,
        }),
      ],
    });
    new CfnOutput(this, 'ReconcilerDeadLetterQueueUrl', { value: reconcilerDeadLetters.queueUrl });

    const intakeFn = orchestrator(
      'IntakeWorker',
      'intake',
      environment(FUNCTION_ENV.intake, {
        ...orchestratorEnv,
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
      }),
    );
    this.stateMachine.grantStartExecution(intakeFn);

    // ---- intake sweeper: a task recorded whose start never went out (a crash or an SQS error
    // between the API's two writes) is sent again, so a task that exists always runs.
    const sweeper = new BatonFunction(this, 'IntakeSweeper', {
      entry: entryOf('sweep'),
      handler: 'sweep',
      timeout: Duration.seconds(60),
      environment: environment(FUNCTION_ENV.sweep, {
        ...tableEnv,
        INTAKE_QUEUE_URL: intake.queueUrl,
        ...(props.intakeSweepAfterSeconds !== undefined
          ? { SWEEP_AFTER_SECONDS: String(props.intakeSweepAfterSeconds) }
          : {}),
      }),
      description: 'Baton orchestrator: sweep (QUEUED tasks whose start was never sent)',
    });
    sweeper.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn, `${this.table.tableArn}/index/*`],
      }),
    );
    intake.grantSendMessages(sweeper);
    new events.Rule(this, 'IntakeSweep', {
      description: 'Sends the start of Baton tasks left QUEUED again',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new eventTargets.LambdaFunction(sweeper, { retryAttempts: 0 })],
    });
    intakeFn.addEventSource(
      new SqsEventSource(intake, { batchSize: 10, maxConcurrency: 5, reportBatchItemFailures: true }),
    );

    // ---- API
    const apiFn = new BatonFunction(this, 'Api', {
      entry: 'lambdas/api/handler.ts',
      handler: 'handler',
      environment: environment(FUNCTION_ENV.api, {
        ...storeEnv,
        INTAKE_QUEUE_URL: intake.queueUrl,
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        BATON_AGENT_NAMES: agentFunctionVars.BATON_AGENT_NAMES,
        ...approvalSecretEnv,
        BATON_PUBLIC_URL: publicUrl,
      }),
      description: 'Baton HTTP API',
    });
    apiFn.addToRolePolicy(readApprovalSecret);
    // Decisions resume the waiting gate with its (stored, never exposed) task token.
    apiFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: [this.stateMachine.stateMachineArn],
      }),
    );
    this.table.grantReadWriteData(apiFn);
    this.bucket.grantRead(apiFn);
    intake.grantSendMessages(apiFn);
    // Cancel stops the task's executions.
    this.stateMachine.grantExecution(apiFn, 'states:StopExecution', 'states:DescribeExecution');

    // ---- console: static assets on CloudFront, people signed in with Cognito (lib/aws/console.ts)
    this.console = new ConsoleHosting(this, 'Console', { accessLogs, removalPolicy });

    const integration = new HttpLambdaIntegration('ApiIntegration', apiFn);
    this.api = new apigw.HttpApi(this, 'HttpApi', {
      description: 'Baton task API',
      defaultIntegration: integration,
      defaultAuthorizer: new HttpIamAuthorizer(),
      createDefaultStage: false,
      // The console calls the API from its CloudFront origin; API Gateway answers the preflights.
      corsPreflight: {
        allowOrigins: [this.console.origin],
        allowMethods: [apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.POST],
        allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'last-event-id'],
        exposeHeaders: ['location', 'x-content-sha256', 'x-content-length'],
        maxAge: Duration.hours(1),
      },
    });
    // GET|POST /console-api/{proxy+}: the same function, with the user pool's JWT authorizer.
    this.console.connectApi(this.api, integration);
    const stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: API_THROTTLE,
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(
          new logs.LogGroup(this, 'ApiAccessLogs', {
            retention: logs.RetentionDays.ONE_MONTH,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        ),
      },
    });
    // The health check and approval links: the HMAC signature in the link is the credential
    // (people click them in mail and chat). GET /approvals and POST /approvals/{id}/decision keep
    // IAM auth. These routes are reachable by anyone, so each is throttled on its own.
    const publicRoutes = PUBLIC_ROUTES.flatMap((r) =>
      this.api.addRoutes({
        path: r.path,
        methods: [apigw.HttpMethod[r.method]],
        integration,
        authorizer: new apigw.HttpNoneAuthorizer(),
      }),
    );
    const cfnStage = stage.node.defaultChild as apigw.CfnStage;
    cfnStage.routeSettings = Object.fromEntries(
      PUBLIC_ROUTES.map((r) => [
        routeKeyOf(r),
        // (A JSON property: CloudFormation's own key names.)
        {
          ThrottlingRateLimit: PUBLIC_ROUTE_THROTTLE.rateLimit,
          ThrottlingBurstLimit: PUBLIC_ROUTE_THROTTLE.burstLimit,
        },
      ]),
    );
    // Route settings name routes by key: the routes exist before the stage refers to them.
    for (const route of publicRoutes) stage.node.addDependency(route);

    // ---- operating it: dashboard, alarms and their SNS topic (lib/aws/observability.ts)
    const observability = new BatonObservability(this, 'Observability', {
      stateMachine: this.stateMachine,
      deadLetterQueues: {
        IntakeDeadLetters: intakeDlq,
        TaskDeadLetters: taskDeadLetters,
        ReconcilerDeadLetters: reconcilerDeadLetters,
      },
      functions: Object.fromEntries(
        this.node
          .findAll()
          .filter((c): c is BatonFunction => c instanceof BatonFunction)
          .map((fn) => [fn.node.id.replace(/[^A-Za-z0-9]/g, ''), fn]),
      ),
      api: this.api,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: observability.alarmTopic.topicArn,
      description: 'Subscribe operators (e-mail, chat, paging) to receive Baton alarms',
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ArtifactBucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'IntakeDeadLetterQueueUrl', { value: intakeDlq.queueUrl });
    new CfnOutput(this, 'TaskDeadLetterQueueUrl', { value: taskDeadLetters.queueUrl });
    new CfnOutput(this, 'ApprovalTopicArn', {
      value: this.approvalTopic.topicArn,
      description: 'Subscribe approvers (e-mail, chat webhooks) to receive approval links',
    });
    new CfnOutput(this, 'ApprovalSecretParameterName', {
      value: this.approvalSecretParameterName,
      description: 'Create this SSM SecureString (32+ random characters) before using approval gates',
    });
  }
}
