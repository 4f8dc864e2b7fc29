/**
 * Baton's local runtime: the synthesized stack, run on one machine with no AWS account.
 *
 * - The stack's tables, buckets and queues are created in the emulators (dynalite, s3rver, local-aws-sqs) under one data directory.
 * - The template is synthesized with bundling (lib/local/assembly.ts): every Lambda of the template
 *   runs the esbuild bundle `cdk synth` wrote for it, in worker threads of its own
 *   (lib/local/functions.ts), with exactly the environment the template gives it (resolved
 *   locally) plus the emulator endpoints and the local overrides below.
 * - The state machine definition is read from the template and run by the local Step Functions
 *   (aws-local-stepfunctions + task tokens), which also serves the SFN API our Lambdas call.
 * - SQS event source mappings become pollers; the HTTP API becomes an HTTP server that builds
 *   API Gateway v2 events for the API function.
 * - EventBridge rules (lib/local/eventbridge.ts) take the local Step Functions' execution status
 *   changes to their Lambda targets (the reconciler).
 * Lambdas reach the emulators through the SDK's AWS_ENDPOINT_URL_<SERVICE> variables.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DOCUMENT_MARSHALLING } from '../../lambdas/adapters/dynamodb/table.js';
import { SECRET_FILE_ENV, SECRET_PARAM_ENV } from '../../lambdas/adapters/secrets.js';
import { TaskStore } from '../../lambdas/adapters/store.js';
import { agentCatalog, loadBatonConfig } from '../../lambdas/agents/registry.js';
import { BatonError, ErrorNames } from '../../lambdas/core/errors.js';
import { Events } from '../../lambdas/core/events.js';
import { METADATA } from '../aws/functions.js';
import { assetDirOf, type BundledAssembly, synthAssembly } from './assembly.js';
import { consoleAssetsDir, localConsole } from './console.js';
import { type Emulators, LOCAL_CREDENTIALS, sdkEnvironment, startEmulators } from './emulators.js';
import { LocalEventBus, localEventRules } from './eventbridge.js';
import { LambdaInvocationError, LocalFunction } from './functions.js';
import { AccessDeniedError, type Credentials, LocalIam, roleIdOf, rolePolicies } from './iam/index.js';
import { startLambdaApi } from './lambda-api.js';
import { prettyLogLine } from './log-format.js';
import { LocalStepFunctions } from './sfn/index.js';
import { type SqsPoller, startSqsPoller } from './sqs-poller.js';
import {
  type CfnResource,
  type CfnTemplate,
  defaultLocalNames,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalNames,
  resolveIntrinsics,
  resourcesOfType,
} from './template.js';
import { LocalTransport, localTransportMode } from './transport.js';

export interface LocalRuntimeOptions {
  /** Where all state lives (default ./.baton). */
  dataDir?: string;
  /** HTTP API port (default 3000; 0 = any free port). */
  port?: number;
  host?: string;
  /** API key; default BATON_API_KEY, else one generated once and kept in the data dir. */
  apiKey?: string;
  /** Baton config (registered agents); default BATON_CONFIG. */
  configPath?: string;
  /** Log sink for the runtime's own lines (default: JSON on stdout). */
  log?: (line: Record<string, unknown>) => void;
  /**
   * The functions' own lines (logs, EMF metrics), with the function's logical id. Default: the
   * runtime's stdout, shown pretty when it is a TTY (lib/local/log-format.ts), else as written.
   */
  functionLog?: (line: string, fn: string) => void;
  /**
   * Long-poll wait of the SQS pollers, seconds (default 20, the longest SQS allows, as Lambda's
   * event source mapping polls; a stop ends a poll at once, since the emulator answers a long
   * poll whose client has gone).
   */
  pollWaitSeconds?: number;
  /** Base URL of approval links; default BATON_PUBLIC_URL, else this runtime's URL. */
  publicUrl?: string;
}

export interface LocalRuntime {
  url: string;
  /** The console, signed in with the API key (`#key=` is read into the tab's session and removed). */
  consoleUrl: string;
  apiKey: string;
  dataDir: string;
  template: CfnTemplate;
  /**
   * The S3 endpoint (path-style, behind local IAM): with the local admin key pair
   * (`LOCAL_CREDENTIALS`), how a user puts objects into a fan-out source bucket.
   */
  s3Endpoint: string;
  /** The cloud assembly whose bundles the functions run (cdk.out of the local synth). */
  assemblyDir: string;
  /** The template's functions by logical id, each running its bundle in sandboxes of its own. */
  functions: ReadonlyMap<string, LocalFunction>;
  stepFunctions: LocalStepFunctions;
  /** The state machine's ARN (its name is the template's logical id; CloudFormation makes one up in AWS). */
  stateMachineArn: string;
  /** Local IAM: the identities and the check another local endpoint plugs in (lib/local/iam/index.ts). */
  iam: LocalIam;
  /**
   * The sandboxes' in-process transport to the local endpoints (lib/local/transport.ts); absent
   * with BATON_LOCAL_TRANSPORT=tcp.
   */
  transport: LocalTransport | undefined;
  /** The emulators' endpoints and IAM fronts. */
  emulators: Emulators;
  /**
   * Fires the scheduled rule `ruleId` (logical id; every scheduled rule when omitted) now, as its
   * rate would next: how tests run the intake sweep without waiting a minute.
   */
  runScheduled(ruleId?: string): Promise<void>;
  /** Resolves when no execution is running. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export class LocalRuntimeError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.LocalRuntimeError;
  }
}

/**
 * Template environment variables that mean something else locally: approvers are told on the
 * console (no SNS topic), links are signed with a secret file in the data dir (no SSM), and
 * link URLs start with the runtime's own URL.
 */
const LOCAL_ENV_OVERRIDES = new Set(['APPROVAL_TOPIC_ARN', SECRET_PARAM_ENV, 'BATON_PUBLIC_URL']);
/**
 * Set next to the BATON_PUBLIC_URL a runtime puts into its own process.env, so that a later
 * runtime in the same process does not take that URL for the user's.
 */
const LOCAL_PUBLIC_URL_MARK = 'BATON_LOCAL_RUNTIME_PUBLIC_URL';

export async function startLocalRuntime(opts: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const dataDir = resolve(opts.dataDir ?? process.env.BATON_DATA_DIR ?? '.baton');
  const log =
    opts.log ??
    ((line) => process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...line })}\n`));
  mkdirSync(dataDir, { recursive: true });
  const envPublicUrl = process.env.BATON_PUBLIC_URL;
  const configuredPublicUrl =
    opts.publicUrl ??
    (envPublicUrl && envPublicUrl !== process.env[LOCAL_PUBLIC_URL_MARK] ? envPublicUrl : undefined);
  const apiKey = opts.apiKey ?? process.env.BATON_API_KEY ?? readOrCreateKey(join(dataDir, 'api-key'));

  const configPath = opts.configPath ?? process.env.BATON_CONFIG;
  const agents = agentCatalog(loadBatonConfig(configPath));
  // The stack as `cdk synth` writes it, bundles included (cached by content hash).
  const assembly = synthAssembly(agents, { configPath });
  const template = assembly.template;
  log({
    component: 'lambda',
    message: assembly.cached
      ? 'Using the cached cloud assembly'
      : 'Synthesized the cloud assembly with its bundles',
    assembly: assembly.dir,
    ...(assembly.cached ? {} : { synthMs: assembly.synthMs }),
  });

  // Local IAM: the runtime's own calls are the admin's (never checked); each function gets its own
  // identity below, and every emulated call is checked against its role's policies.
  const iam = new LocalIam({ region: LOCAL_REGION, account: LOCAL_ACCOUNT, admin: LOCAL_CREDENTIALS });
  const emulators = await startEmulators({ dataDir, iam });
  const sdkEnv: Record<string, string> = sdkEnvironment(emulators);

  const clientConfig = {
    region: LOCAL_REGION,
    credentials: {
      accessKeyId: sdkEnv.AWS_ACCESS_KEY_ID ?? 'local',
      secretAccessKey: sdkEnv.AWS_SECRET_ACCESS_KEY ?? 'local',
    },
  };
  const sqs = new SQSClient({ ...clientConfig, endpoint: emulators.sqs });
  const queueUrls = await createQueues(template, sqs, emulators);
  const names = defaultLocalNames((name) => {
    const url = queueUrls.get(name);
    if (!url) throw new LocalRuntimeError(`Queue ${name} was not created`);
    return url;
  });
  await createTables(template, names, new DynamoDBClient({ ...clientConfig, endpoint: emulators.dynamodb }));
  await createBuckets(
    template,
    names,
    new S3Client({ ...clientConfig, endpoint: emulators.s3, forcePathStyle: true }),
  );

  // Each function calls the emulators as its role's session, with a key pair of its own.
  const roles = rolePolicies(template, names);
  const roleOf = (id: string, roleProperty: unknown) => {
    const role = roles.get(roleIdOf(roleProperty) ?? '');
    if (!role) throw new LocalRuntimeError(`${id} has no role of the template (Fn::GetAtt <Role>.Arn)`);
    return role;
  };
  const credentials = new Map<string, Credentials>();
  for (const [id, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    if (!fn.Metadata?.[METADATA.entry]) continue;
    credentials.set(id, iam.issueCredentials(iam.principalOf(roleOf(id, fn.Properties?.Role), id)));
  }

  // What the runtime's own process sees (its store calls, tests, tools): the endpoints and the
  // union of the functions' variables. The functions see none of it: each runs in sandboxes of
  // its own with its own environment (functionEnvironment below).
  const union: Record<string, string> = {};
  for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function'))
    for (const [k, v] of Object.entries(templateEnvironment(fn, template, names)))
      if (k !== 'NODE_OPTIONS' && !LOCAL_ENV_OVERRIDES.has(k)) union[k] = v;
  for (const k of LOCAL_ENV_OVERRIDES) delete process.env[k];
  Object.assign(process.env, sdkEnv, union, { BATON_API_KEY: apiKey });

  // Filled in below, before the first invocation: the SFN endpoint and the runtime's URL.
  const late: { sfnEndpoint?: string; lambdaEndpoint?: string; publicUrl?: string } = {};
  const apiFunctionId = single(
    resourcesOfType(template, 'AWS::Lambda::Function').filter(
      ([, r]) => r.Metadata?.[METADATA.entry] === 'lambdas/api/handler.ts',
    ),
    'API function',
  )[0];
  const functionEnvironment = (id: string, fn: CfnResource): Record<string, string> => {
    const own = templateEnvironment(fn, template, names);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(own)) if (!LOCAL_ENV_OVERRIDES.has(k)) env[k] = v;
    if (SECRET_PARAM_ENV in own) env[SECRET_FILE_ENV] = join(dataDir, 'approval-secret');
    if ('BATON_PUBLIC_URL' in own && late.publicUrl) env.BATON_PUBLIC_URL = late.publicUrl;
    if (id === apiFunctionId) env.BATON_API_KEY = apiKey;
    return {
      ...lambdaRuntimeEnvironment(id, fn),
      ...passThroughEndpoints(),
      ...sdkEnv,
      ...(late.sfnEndpoint ? { AWS_ENDPOINT_URL_SFN: late.sfnEndpoint } : {}),
      ...(late.lambdaEndpoint ? { AWS_ENDPOINT_URL_LAMBDA: late.lambdaEndpoint } : {}),
      ...identityEnvironment(credentials.get(id)),
      ...env,
    };
  };
  // Approval links go to the runtime log (ConsoleApprovalNotifier's lines, from the sandboxes).
  const approvalLine = (line: string) => log({ component: 'approvals', message: line });

  const functionLog =
    opts.functionLog ??
    (process.stdout.isTTY
      ? (line: string, fn: string) => process.stdout.write(`${prettyLogLine(line, fn)}\n`)
      : undefined);
  // The sandboxes' requests to the endpoints below go in process unless BATON_LOCAL_TRANSPORT=tcp.
  const transport = localTransportMode() === 'in-process' ? new LocalTransport() : undefined;
  if (transport && emulators.fronts)
    for (const service of ['dynamodb', 's3', 'sqs'] as const)
      transport.add(service, emulators[service], emulators.fronts[service].handle);
  const functions = loadFunctions(assembly, names, functionEnvironment, approvalLine, functionLog, transport);
  const byName = new Map<string, LocalFunction>();
  for (const fn of functions.values()) {
    byName.set(fn.logicalId, fn);
    byName.set(fn.arn, fn);
    // Its function name (a fixed FunctionName for agents), as Invoke takes it.
    byName.set(fn.functionName, fn);
  }
  const [smId, sm] = single(resourcesOfType(template, 'AWS::StepFunctions::StateMachine'), 'state machine');
  const smArn = names.ref(smId, sm);
  const smRole = roleOf(smId, sm.Properties?.RoleArn);
  // The state machine's role is the principal of its Lambda invocations.
  const smPrincipal = iam.principalOf(smRole, smArn.split(':').at(-1) ?? smId);
  const invoke = async (functionName: string, payload: unknown): Promise<unknown> => {
    const fn = byName.get(functionName);
    if (!fn) {
      throw new LambdaInvocationError(
        'Lambda.ResourceNotFoundException',
        `Function not found: ${functionName}`,
      );
    }
    try {
      await iam.check(smPrincipal, [{ action: 'lambda:InvokeFunction', resource: fn.arn }]);
    } catch (err) {
      // What Step Functions reports when its role may not invoke the function.
      if (err instanceof AccessDeniedError)
        throw new LambdaInvocationError(
          'Lambda.AWSLambdaException',
          `${err.message} (Service: Lambda, Status Code: 403, Error Code: AccessDeniedException)`,
          [],
          { cause: err },
        );
      throw err;
    }
    return fn.invoke(payload);
  };

  // EventBridge invokes a target under the function's resource policy (AWS::Lambda::Permission
  // for events.amazonaws.com, scoped to the rule's ARN), not under any role.
  const permissions = resourcesOfType(template, 'AWS::Lambda::Permission').map(
    ([, p]) => resolveIntrinsics(p.Properties, template, names) as Record<string, unknown>,
  );
  const invokeAsRule = async (functionArn: string, event: unknown, ruleId: string): Promise<unknown> => {
    const fn = byName.get(functionArn);
    if (!fn) throw new LocalRuntimeError(`Rule ${ruleId} targets ${functionArn}, which is not a function`);
    const ruleArn = names.getAtt(ruleId, 'Arn', template.Resources[ruleId] as CfnResource);
    const allowed = permissions.some(
      (p) =>
        (p.Action === 'lambda:InvokeFunction' || p.Action === 'lambda:*') &&
        (p.FunctionName === fn.arn || p.FunctionName === fn.logicalId) &&
        p.Principal === 'events.amazonaws.com' &&
        (p.SourceArn === undefined || p.SourceArn === ruleArn),
    );
    if (!allowed)
      throw new AccessDeniedError(
        'accessDenied',
        `events.amazonaws.com (rule ${ruleArn}) is not authorized to perform: lambda:InvokeFunction on resource: ${fn.arn} because no resource-based policy allows it`,
        { principal: 'events.amazonaws.com', action: 'lambda:InvokeFunction', resource: fn.arn },
      );
    return fn.invoke(event);
  };

  // EventBridge: the template's rules; the local Step Functions puts its status changes on the bus.
  const ruleResources = resourcesOfType(template, 'AWS::Events::Rule');
  const bus = new LocalEventBus({
    rules: localEventRules(
      ruleResources.map(([id, r]) => [
        id,
        resolveIntrinsics(r.Properties, template, names) as Record<string, unknown>,
      ]),
      {
        invokeFunction: async (arn, event, ruleId) => {
          await invokeAsRule(arn, event, ruleId);
        },
        sendToQueue: async (queueArn, body, attributes) => {
          const QueueUrl = queueUrls.get(queueArn.split(':').at(-1) ?? '');
          if (!QueueUrl) throw new LocalRuntimeError(`No local queue for ${queueArn}`);
          const MessageAttributes = Object.fromEntries(
            Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
          );
          await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageAttributes }));
        },
      },
      Object.fromEntries(ruleResources.map(([id, r]) => [id, names.getAtt(id, 'Arn', r)])),
    ),
    log: (line) => log({ component: 'eventbridge', ...line }),
    region: LOCAL_REGION,
    account: LOCAL_ACCOUNT,
  });

  // Step Functions: the definition from the template, and the API endpoint our Lambdas call. The
  // engine's own S3 calls (a Distributed Map's ItemReader and ResultWriter) sign as the state
  // machine's role, so local IAM checks them at the S3 front as it checks the functions' calls.
  const engineS3 = new S3Client({
    ...clientConfig,
    credentials: iam.issueCredentials(smPrincipal),
    endpoint: emulators.s3,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const stepFunctions = new LocalStepFunctions({
    dataDir: join(dataDir, 'stepfunctions'),
    invokeLambda: invoke,
    log: (line) => log({ component: 'stepfunctions', ...line }),
    onStatusChange: (event) => bus.put(event),
    s3: engineS3,
    authorizeEngineCall: (action, resource) => iam.check(smPrincipal, [{ action, resource }]),
  });
  const definition = JSON.parse(String(resolveIntrinsics(sm.Properties?.DefinitionString, template, names)));
  stepFunctions.registerStateMachine(smArn, definition, { roleArn: smRole.roleArn });
  const sfnServer = await stepFunctions.listen(0, '127.0.0.1', { iam });
  process.env.AWS_ENDPOINT_URL_SFN = sfnServer.url;
  late.sfnEndpoint = sfnServer.url;
  transport?.add('sfn', sfnServer.url, (req) => sfnServer.handle(req));

  // Lambda's Invoke API: how the step runner reaches agent functions (IAM-checked, as in AWS).
  const lambdaApi = await startLambdaApi({
    iam,
    functionOf: (name) => byName.get(name),
    log: (line) => log({ component: 'lambda', ...line }),
  });
  late.lambdaEndpoint = lambdaApi.url;
  transport?.add('lambda', lambdaApi.url, (req) => lambdaApi.handle(req));

  // SQS event source mappings.
  const pollers: SqsPoller[] = [];
  for (const [, esm] of resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')) {
    const p = resolveIntrinsics(esm.Properties, template, names) as {
      EventSourceArn: string;
      FunctionName: string;
      BatchSize?: number;
      ScalingConfig?: { MaximumConcurrency?: number };
    };
    const queueName = p.EventSourceArn.split(':').at(-1) as string;
    const fn = byName.get(p.FunctionName);
    const queueUrl = queueUrls.get(queueName);
    const fnCredentials = fn ? credentials.get(fn.logicalId) : undefined;
    if (!fn || !queueUrl || !fnCredentials)
      throw new LocalRuntimeError(`Event source ${p.EventSourceArn} -> ${p.FunctionName} cannot be wired`);
    pollers.push(
      startSqsPoller({
        queueUrl,
        // As Lambda's event source mapping, the poller reads the queue with the function's role.
        client: new SQSClient({ ...clientConfig, credentials: fnCredentials, endpoint: emulators.sqs }),
        handler: async (event) => (await fn.invoke(event)) as never,
        batchSize: p.BatchSize ?? 10,
        maxConcurrency: p.ScalingConfig?.MaximumConcurrency ?? 5,
        waitTimeSeconds: opts.pollWaitSeconds ?? 20,
        log: (line) => log({ component: 'sqs', ...line }),
      }),
    );
  }

  // HTTP API -> the API function.
  const apiFn = functions.get(apiFunctionId);
  if (!apiFn) throw new LocalRuntimeError(`The API function ${apiFunctionId} has no bundle to run`);
  // The console (CloudFront and S3 in AWS): GET / and /console/*, from the assembly's asset folder.
  const consoleSite = localConsole(consoleAssetsDir(assembly));
  const server = createServer((req, res) => {
    if (consoleSite.serve(req, res)) return;
    serveApi(apiFn, req, res).catch((err) => {
      log({ level: 'error', message: 'HTTP shim failed', error: String(err) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ title: 'Internal error', status: 500, detail: 'local runtime failure' }));
    });
  });
  const port = opts.port ?? Number(process.env.PORT ?? 3000);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, opts.host ?? '127.0.0.1', () => ok());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${address.port}`;
  const publicUrl = configuredPublicUrl ?? url;
  process.env.BATON_PUBLIC_URL = publicUrl;
  process.env[LOCAL_PUBLIC_URL_MARK] = publicUrl;
  late.publicUrl = publicUrl;
  // Scheduled rules (the intake sweep) fire on their rates from here on.
  bus.startSchedules();

  // Crash recovery: executions that were running when the process last stopped run again;
  // steps that had succeeded are not run again (their results are in the store).
  const resumed = await stepFunctions.resumeInterrupted();
  if (resumed.length > 0) {
    log({ message: 'Resumed interrupted executions', executions: resumed });
    // The runtime's own client (not lambdas/adapters/clients.ts: that one loads the X-Ray SDK,
    // whose async hook would then tax every promise of the main thread).
    const ddb = new DynamoDBClient({ ...clientConfig, endpoint: emulators.dynamodb });
    await recordResumptions(
      resumed,
      DynamoDBDocumentClient.from(ddb, DOCUMENT_MARSHALLING),
      union.TABLE_NAME as string,
    );
    ddb.destroy();
  }

  let closed = false;
  return {
    url,
    consoleUrl: `${url}/#key=${encodeURIComponent(apiKey)}`,
    apiKey,
    dataDir,
    template,
    s3Endpoint: emulators.s3,
    assemblyDir: assembly.dir,
    functions,
    stepFunctions,
    stateMachineArn: smArn,
    iam,
    transport,
    emulators,
    runScheduled: (ruleId) => bus.runScheduled(ruleId),
    idle: () => stepFunctions.idle(),
    async close() {
      if (closed) return;
      closed = true;
      transport?.close();
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      await Promise.all(pollers.map((p) => p.stop()));
      // Undelivered status events stay in the executions' files; the next start sends them.
      bus.close();
      await stepFunctions.close();
      engineS3.destroy();
      await sfnServer.close();
      await lambdaApi.close();
      await Promise.all([...functions.values()].map((fn) => fn.close()));
      await emulators.close();
    },
  };
}

/** The audit trail shows each interruption: one ExecutionResumed event per resumed execution. */
async function recordResumptions(
  executionArns: string[],
  ddb: DynamoDBDocumentClient,
  table: string,
): Promise<void> {
  const store = new TaskStore(ddb, table);
  for (const arn of executionArns) {
    const [, taskId, run] = /:execution:[^:]+:(.+)-r(\d+)$/.exec(arn) ?? [];
    if (!taskId || !run) continue;
    const task = await store.getTask(taskId);
    if (!task) continue;
    const resumedAt = new Date().toISOString();
    await store.appendEvent(
      Events.executionResumed(
        { taskId, traceId: task.traceId, run: Number(run), resumedAt },
        {
          run: Number(run),
          executionArn: arn,
          reason: 'the local runtime restarted while the execution was running',
        },
      ),
    );
  }
}

function readOrCreateKey(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = `bk_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

function single<T>(list: T[], what: string): T {
  if (list.length !== 1)
    throw new LocalRuntimeError(`Expected one ${what} in the template, found ${list.length}`);
  return list[0] as T;
}

/** A function's variables as the template gives them, intrinsics resolved locally. */
function templateEnvironment(
  fn: CfnResource,
  template: CfnTemplate,
  names: LocalNames,
): Record<string, string> {
  const vars =
    (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  return Object.fromEntries(
    Object.entries(resolveIntrinsics(vars, template, names) as Record<string, unknown>).map(([k, v]) => [
      k,
      String(v),
    ]),
  );
}

/** A function's own identity, as Lambda puts its role's credentials into its environment. */
function identityEnvironment(credentials: Credentials | undefined): Record<string, string> {
  if (!credentials) return {};
  return { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey };
}

/** What the Lambda runtime itself sets in every execution environment. */
function lambdaRuntimeEnvironment(id: string, fn: CfnResource): Record<string, string> {
  const p = fn.Properties ?? {};
  return {
    AWS_LAMBDA_FUNCTION_NAME: id,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(p.MemorySize ?? 128),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${id}`,
    AWS_EXECUTION_ENV: `AWS_Lambda_${String(p.Runtime ?? 'nodejs22.x')}`,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    // No X-Ray daemon here: Powertools Tracer off (trace ids still flow through the payloads).
    POWERTOOLS_TRACE_ENABLED: 'false',
    _HANDLER: String(p.Handler ?? ''),
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    // Lambda's PATH, its runtime's bin directory (/var/lang/bin there) first: here the Node running the runtime.
    PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin/:/bin`,
  };
}

/**
 * Endpoints the user set for services local mode does not emulate (e.g. AWS_ENDPOINT_URL_BEDROCK_RUNTIME
 * for a Bedrock stand-in): the functions get them too, as a deployment's functions would reach
 * those services.
 */
function passThroughEndpoints(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[0].startsWith('AWS_ENDPOINT_URL_') &&
        ![
          'AWS_ENDPOINT_URL_DYNAMODB',
          'AWS_ENDPOINT_URL_S3',
          'AWS_ENDPOINT_URL_SQS',
          'AWS_ENDPOINT_URL_SFN',
          'AWS_ENDPOINT_URL_LAMBDA',
        ].includes(e[0]) &&
        typeof e[1] === 'string',
    ),
  );
}

/** Every function of the template with a bundle of ours: its bundle file, timeout and memory. */
function loadFunctions(
  assembly: BundledAssembly,
  names: LocalNames,
  env: (id: string, fn: CfnResource) => Record<string, string>,
  approvalLine: (line: string) => void,
  functionLog?: (line: string, fn: string) => void,
  transport?: LocalTransport,
): Map<string, LocalFunction> {
  const out = new Map<string, LocalFunction>();
  for (const [id, r] of resourcesOfType(assembly.template, 'AWS::Lambda::Function')) {
    // CDK's own helper functions (no baton metadata) are not ours to run.
    if (!r.Metadata?.[METADATA.entry]) continue;
    const handler = String(r.Properties?.Handler ?? '');
    const dot = handler.lastIndexOf('.');
    if (dot <= 0) throw new LocalRuntimeError(`${id} has no handler of the form file.export: "${handler}"`);
    const dir = assetDirOf(assembly, id);
    const base = handler.slice(0, dot);
    const file = ['.mjs', '.js', '.cjs'].map((ext) => join(dir, `${base}${ext}`)).find((f) => existsSync(f));
    if (!file) throw new LocalRuntimeError(`The bundle of ${id} (${dir}) has no ${base}.mjs or ${base}.js`);
    out.set(
      id,
      new LocalFunction({
        logicalId: id,
        arn: names.getAtt(id, 'Arn', r),
        file,
        exportName: handler.slice(dot + 1),
        timeoutSeconds: Number(r.Properties?.Timeout ?? 3),
        memoryMb: Number(r.Properties?.MemorySize ?? 128),
        env: () => env(id, r),
        approvalLine,
        ...(functionLog
          ? {
              // Both streams: Powertools writes warnings and errors to stderr (Lambda: both go to its logs).
              output: (line: string) => functionLog(line, id),
            }
          : {}),
        compileCacheDir: join(assembly.dir, '.compile-cache'),
        ...(transport ? { transport } : {}),
      }),
    );
  }
  return out;
}

async function createQueues(
  template: CfnTemplate,
  sqs: SQSClient,
  _e: Emulators,
): Promise<Map<string, string>> {
  const urls = new Map<string, string>();
  const queues = resourcesOfType(template, 'AWS::SQS::Queue');
  // Dead-letter queues first: the others name them in their RedrivePolicy.
  queues.sort(
    ([, a], [, b]) =>
      Number(Boolean(a.Properties?.RedrivePolicy)) - Number(Boolean(b.Properties?.RedrivePolicy)),
  );
  const arnOf = (id: string) => `arn:aws:sqs:${LOCAL_REGION}:000000000000:baton-${id}`;
  for (const [id, q] of queues) {
    const name = `baton-${id}`;
    const p = q.Properties ?? {};
    const attributes: Record<string, string> = {};
    if (p.VisibilityTimeout !== undefined) attributes.VisibilityTimeout = String(p.VisibilityTimeout);
    if (p.MessageRetentionPeriod !== undefined)
      attributes.MessageRetentionPeriod = String(p.MessageRetentionPeriod);
    const redrive = p.RedrivePolicy as
      | { deadLetterTargetArn: { 'Fn::GetAtt': [string, string] }; maxReceiveCount: number }
      | undefined;
    if (redrive) {
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: arnOf(redrive.deadLetterTargetArn['Fn::GetAtt'][0]),
        maxReceiveCount: redrive.maxReceiveCount,
      });
    }
    try {
      const res = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      urls.set(name, res.QueueUrl as string);
    } catch (err) {
      if ((err as Error).name !== 'QueueAlreadyExists' && (err as Error).name !== 'QueueNameExists')
        throw err;
      const res = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      urls.set(name, res.QueueUrl as string);
    }
  }
  return urls;
}

/** Also used by the store contract test, to create the same table (test/contract/store.test.ts). */
export { createTables };

async function createTables(template: CfnTemplate, names: LocalNames, ddb: DynamoDBClient): Promise<void> {
  const tables = [
    ...resourcesOfType(template, 'AWS::DynamoDB::GlobalTable'),
    ...resourcesOfType(template, 'AWS::DynamoDB::Table'),
  ];
  for (const [id, t] of tables) {
    const p = t.Properties as Record<string, unknown>;
    const index = (i: Record<string, unknown>) => ({
      IndexName: i.IndexName as string,
      KeySchema: i.KeySchema as CreateTableCommandInput['KeySchema'],
      Projection: (i.Projection as { ProjectionType: 'ALL' } | undefined) ?? { ProjectionType: 'ALL' },
    });
    const input: CreateTableCommandInput = {
      TableName: names.ref(id, t as CfnResource),
      KeySchema: p.KeySchema as CreateTableCommandInput['KeySchema'],
      AttributeDefinitions: p.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
      BillingMode: 'PAY_PER_REQUEST',
      ...(p.GlobalSecondaryIndexes
        ? { GlobalSecondaryIndexes: (p.GlobalSecondaryIndexes as Record<string, unknown>[]).map(index) }
        : {}),
      ...(p.LocalSecondaryIndexes
        ? { LocalSecondaryIndexes: (p.LocalSecondaryIndexes as Record<string, unknown>[]).map(index) }
        : {}),
    };
    try {
      await ddb.send(new CreateTableCommand(input));
    } catch (err) {
      if ((err as Error).name !== 'ResourceInUseException') throw err;
    }
    // As in AWS, a new table is usable once ACTIVE.
    await waitUntilTableExists(
      { client: ddb, maxWaitTime: 60, minDelay: 0.05 as number, maxDelay: 1 },
      { TableName: input.TableName },
    );
  }
}

/**
 * The template's buckets, and the buckets a fan-out may read items from (a function's
 * FANOUT_SOURCE_BUCKETS: the config's `fanOut.sourceBuckets`, buckets of the account in AWS,
 * created empty here so that local mode can run `s3://` item sources too).
 */
async function createBuckets(template: CfnTemplate, names: LocalNames, s3: S3Client): Promise<void> {
  const buckets = new Set(resourcesOfType(template, 'AWS::S3::Bucket').map(([id, b]) => names.ref(id, b)));
  for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const vars = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables;
    const sources = vars?.FANOUT_SOURCE_BUCKETS;
    if (typeof sources === 'string')
      for (const b of sources.split(',').map((x) => x.trim())) if (b) buckets.add(b);
  }
  for (const bucket of buckets) {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (err) {
      if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as Error).name)) throw err;
    }
  }
}

/* ----------------------------------------------------------------- API Gateway shim */

const TEXTUAL = /^(text\/|application\/(json|problem\+json|x-www-form-urlencoded|xml|javascript))/i;

/** API Gateway's HTTP API payload quota: a larger request never reaches the function. */
export const MAX_API_REQUEST_BYTES = 10 * 1024 * 1024;

/** API Gateway's own answer to a request over its payload quota (not the API's problem+json). */
function entityTooLarge(res: ServerResponse): void {
  const body = JSON.stringify({ message: 'Request Entity Too Large' });
  res.writeHead(413, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  });
  res.end(body);
}

/**
 * The request body, read up to MAX_API_REQUEST_BYTES: a declared larger Content-Length is refused
 * before any of it is read, a longer stream as soon as it passes the quota (undefined: answered).
 */
async function readRequestBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_API_REQUEST_BYTES) {
    entityTooLarge(res);
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_API_REQUEST_BYTES) {
      entityTooLarge(res);
      req.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function serveApi(fn: LocalFunction, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readRequestBody(req, res);
  if (!raw) return;
  // The request target as sent, split at its first "?" (not through URL, which reads "/\\x" or
  // "//x" as a host): API Gateway hands the raw path to the function.
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const url = {
    pathname: q < 0 ? target : target.slice(0, q),
    search: q < 0 ? '' : target.slice(q),
    searchParams: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)),
  };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const contentType = headers['content-type'] ?? '';
  const textual = raw.length === 0 || TEXTUAL.test(contentType);
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] ? `${query[k]},${v}` : v;
  const now = Date.now();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(raw.length ? { body: textual ? raw.toString('utf8') : raw.toString('base64') } : {}),
    isBase64Encoded: !textual,
  };
  const result = (await fn.invoke(event)) as APIGatewayProxyStructuredResultV2 | string;
  const out: APIGatewayProxyStructuredResultV2 =
    typeof result === 'string' ? { statusCode: 200, body: result } : result;
  const body = out.body ? Buffer.from(out.body, out.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  const responseHeaders: Record<string, string | string[]> = { ...(out.headers as Record<string, string>) };
  if (out.cookies?.length) responseHeaders['set-cookie'] = out.cookies;
  responseHeaders['content-length'] = String(body.byteLength);
  res.writeHead(out.statusCode ?? 200, responseHeaders);
  res.end(body);
}
