/** Lambda functions bundled with esbuild (no Docker), Node 22 on arm64, tracing and JSON logs on. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CfnResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { AgentEntry } from '../../lambdas/agents/registry.js';
import {
  DEFAULT_MODEL_CONFIG,
  MODEL_PROVIDER_MODULES,
  type ModelConfig,
  type ModelProviderName,
  resolveModelConfig,
} from '../../lambdas/models/config.js';
import { configuredSections, TOOL_MODULES, type ToolSection } from '../../lambdas/tools/kinds.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** CloudFormation metadata keys the local runtime reads to run each function in process. */
export const METADATA = { entry: 'baton:entry', handler: 'baton:handler', agent: 'baton:agent' } as const;

/**
 * A function's environment from its schema in lambdas/core/env.ts: `vars` is typed by the
 * schema's input, so a missing required variable (or one the schema does not know) does not
 * compile. Unset optional variables are left out.
 */
export function environment<S extends z.ZodObject>(_schema: S, vars: z.input<S>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(vars as object).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

/** Credential providers of the SDK's default chain a Lambda function never reaches (see `externalModules`). */
export const UNUSED_CREDENTIAL_PROVIDERS = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
] as const;

/** What `semver` resolves to in every bundle (relative to the project root, esbuild's working directory). */
export const SEMVER_STUB = './lambdas/shared/semver-unbundled.cjs';

export interface BatonFunctionProps {
  /** Source file, relative to the project root. */
  entry: string;
  /** Exported handler name. */
  handler: string;
  timeout?: Duration;
  memorySize?: number;
  /** Its variables, built with `environment(schema, vars)` from the function's schema. */
  environment?: Record<string, string>;
  description?: string;
  /** A fixed function name (default: CloudFormation names it). */
  functionName?: string;
  /**
   * Files copied beside the bundle (into the asset directory) after esbuild: what the bundle reads
   * at run time from `new URL(name, import.meta.url)` (e.g. sql.js's wasm). Absolute source paths
   * are only used by the build command; the template never sees them.
   */
  bundleFiles?: readonly { from: string; to: string }[];
}

/** A shell command copying the file or folder `from` to `<outputDir>/<to>` (names quoted for the shell). */
function copyCommand(from: string, outputDir: string, to: string): string {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const target = join(outputDir, to);
  return `mkdir -p ${quote(dirname(target))} && cp -R ${quote(from)} ${quote(target)}`;
}

export class BatonFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: BatonFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: resolve(PROJECT_ROOT, props.entry),
      handler: props.handler,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup,
      description: props.description,
      ...(props.functionName ? { functionName: props.functionName } : {}),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: resolve(PROJECT_ROOT, 'package-lock.json'),
      // Source maps are written beside each bundle (index.mjs.map, not inline) but not enabled
      // at start: --enable-source-maps parses the map (MBs) at the first stack trace and slows
      // every cold start that logs an error. Set NODE_OPTIONS=--enable-source-maps on a function
      // to read its stack traces against the sources.
      environment: {
        POWERTOOLS_SERVICE_NAME: 'baton',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        metafile: true,
        mainFields: ['module', 'main'],
        // The AWS SDK is bundled (the version package-lock.json pins, tree-shaken), but not the links of
        // its default credential chain that read profiles, SSO, a credential process or a web identity
        // token file: a Lambda function's credentials are in its environment, the chain's first link,
        // so those links never run (left as imports, they would fail if one did). ~90-130 KB a bundle.
        externalModules: [...UNUSED_CREDENTIAL_PROVIDERS],
        // semver's one importer is the X-Ray SDK's patcher of the AWS SDK v2, which Baton never
        // calls; it gets a stub that throws if it is (~28 KB a bundle, and its start-up work).
        esbuildArgs: { '--alias': `semver=${SEMVER_STUB}` },
        // CommonJS globals for bundled CommonJS packages (sql.js reads __dirname when it loads).
        banner: [
          "import { createRequire as __cr } from 'node:module';",
          "import { fileURLToPath as __fu } from 'node:url';",
          "import { dirname as __dn } from 'node:path';",
          'const require = __cr(import.meta.url);',
          'const __filename = __fu(import.meta.url);',
          'const __dirname = __dn(__filename);',
        ].join(' '),
        ...(props.bundleFiles?.length
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (_inputDir: string, outputDir: string) =>
                  (props.bundleFiles ?? []).map((f) => copyCommand(f.from, outputDir, f.to)),
              },
            }
          : {}),
      },
    });
    const cfn = this.node.defaultChild as CfnResource;
    cfn.addMetadata(METADATA.entry, props.entry);
    cfn.addMetadata(METADATA.handler, props.handler);
  }
}

/** What an agent's bundle carries besides the agent: the tool kinds and the model provider. */
export interface AgentBundleContents {
  /** The kinds of the tool sections its settings configure. */
  tools: ToolSection[];
  /** The provider of its model (the deployment's, with the agent's override laid over it); none for offline. */
  model?: ModelProviderName;
}

/**
 * What `agent`'s bundle must carry: the tool sections its settings configure (a shell section
 * without `enabled` too: the tool answers that it is disabled) and its model's provider. A model
 * config that does not resolve gets no provider: the agent fails its model calls with the same
 * error in Lambda (lambdas/agents/context.ts), so the bundle needs none.
 */
export function agentBundleContents(agent: AgentEntry, deploymentModel?: ModelConfig): AgentBundleContents {
  let provider: ModelConfig['provider'] | undefined;
  try {
    provider = resolveModelConfig(deploymentModel ?? DEFAULT_MODEL_CONFIG, agent.settings.model).provider;
  } catch {
    provider = undefined;
  }
  return {
    tools: configuredSections(agent.settings.tools),
    ...(provider && provider !== 'offline' ? { model: provider } : {}),
  };
}

/**
 * Writes the Lambda entry of an agent: the harness around the agent's handler, with only the
 * tool kinds and the model provider the agent uses imported (statically: esbuild bundles nothing
 * else). Registered agents live outside `lambdas/`, so each agent gets a generated entry that
 * imports its module. Named by its content: concurrent synths of other configs do not collide.
 */
export function agentEntryFile(agent: AgentEntry, contents: AgentBundleContents): string {
  const dir = resolve(PROJECT_ROOT, 'node_modules/.cache/baton/agent-entries');
  mkdirSync(dir, { recursive: true });
  const from = (path: string) => {
    const rel = relative(dir, resolve(PROJECT_ROOT, path)).replaceAll('\\', '/');
    return rel.startsWith('.') ? rel : `./${rel}`;
  };
  const tools = contents.tools.map((section) => TOOL_MODULES[section]);
  const model = contents.model ? MODEL_PROVIDER_MODULES[contents.model] : undefined;
  const source = [
    '// Generated by lib/aws/functions.ts at synth time; do not edit.',
    `// Agent ${JSON.stringify(agent.name)}: tools ${contents.tools.join(', ') || '(none)'}; model provider ${contents.model ?? '(offline)'}.`,
    `import { agentLambda } from '${from('lambdas/agents/lambda.ts')}';`,
    ...tools.map((t) => `import { ${t.exportName} } from '${from(t.path)}';`),
    ...(model ? [`import { ${model.exportName} } from '${from(model.path)}';`] : []),
    `import { ${agent.exportName} as agent } from '${from(agent.modulePath)}';`,
    `export const handler = agentLambda(${JSON.stringify(agent.name)}, agent, {`,
    '  capabilities: {',
    `    tools: {${contents.tools.map((section, i) => ` ${section}: ${tools[i]?.exportName},`).join('')} },`,
    `    models: {${contents.model && model ? ` ${JSON.stringify(contents.model)}: ${model.exportName},` : ''} },`,
    '  },',
    '});',
    '',
  ].join('\n');
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const file = join(dir, `${agent.name}-${hash}.ts`);
  if (!existsSync(file)) {
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, source);
    renameSync(temporary, file);
  }
  return relative(PROJECT_ROOT, file);
}

/**
 * sql.js's WebAssembly binary: esbuild bundles sql.js's JavaScript but not the wasm it loads at
 * run time, so the bundle of an agent with the db tool carries it beside `index.mjs` (the db tool
 * looks there first; lambdas/tools/db.ts).
 */
export const SQL_WASM = {
  from: createRequire(import.meta.url).resolve('sql.js/dist/sql-wasm.wasm'),
  to: 'sql-wasm.wasm',
} as const;

export class AgentFunction extends BatonFunction {
  readonly agentName: string;
  /** The tool kinds and the model provider its bundle carries. */
  readonly bundleContents: AgentBundleContents;
  constructor(
    scope: Construct,
    id: string,
    agent: AgentEntry,
    /** Its function name (agentFunctionName in lambdas/core/ids.ts: the orchestrator derives it). */
    functionName: string,
    environment: Record<string, string>,
    /** Files its settings name, copied beside the bundle (agent-settings.ts deployedSettings). */
    files: readonly { from: string; to: string }[] = [],
    /** The deployment's model (the stack's modelConfig; default offline): which provider the bundle carries. */
    deploymentModel?: ModelConfig,
  ) {
    const contents = agentBundleContents(agent, deploymentModel);
    super(scope, id, {
      entry: agentEntryFile(agent, contents),
      handler: 'handler',
      functionName,
      timeout: Duration.seconds(agent.timeoutSeconds ?? 900),
      memorySize: agent.memoryMb ?? 1024,
      environment,
      bundleFiles: [...(contents.tools.includes('db') ? [SQL_WASM] : []), ...files],
      description: `Baton agent "${agent.name}": ${agent.description}`.slice(0, 256),
    });
    this.agentName = agent.name;
    this.bundleContents = contents;
    (this.node.defaultChild as CfnResource).addMetadata(METADATA.agent, agent.name);
  }
}
