/**
 * The cloud assembly local mode runs: the Baton stack synthesized WITH its esbuild bundles, as
 * `cdk synth` writes them (one `asset.<hash>` directory per distinct bundle, named by each
 * function's `aws:asset:path` metadata). Local mode loads those bundles, never the sources.
 *
 * Bundling ~15 functions takes seconds, so the assembly is cached by a content hash of what goes
 * into it (Baton's sources, package-lock.json, the Baton config, the registered agents' folders,
 * the model config): a runtime start with nothing changed reuses the bundles. The cache lives
 * under the OS temp directory, outside the project on purpose: a bundle inside the project tree
 * would resolve a missing module from the project's node_modules (Node walks up the folders),
 * and hide what fails in AWS.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { type AgentEntry, loadBatonConfig } from '../../lambdas/agents/registry.js';
import { MODEL_CONFIG_ENV, type ModelConfig, parseModelConfig } from '../../lambdas/models/index.js';
import { PROJECT_ROOT } from '../aws/functions.js';
import { BatonStack } from '../aws/stack.js';
import { type CfnTemplate, LOCAL_ACCOUNT, LOCAL_REGION, LOCAL_STACK, TemplateError } from './template.js';

/** CDK's metadata key naming a resource's asset directory inside the assembly. */
export const ASSET_PATH_METADATA = 'aws:asset:path';

export interface BundledAssembly {
  /** The assembly directory (what `cdk synth` writes to cdk.out). */
  dir: string;
  template: CfnTemplate;
  /** Whether the assembly came from the cache (no bundling at this start). */
  cached: boolean;
  /** How long synthesis (with bundling) took; 0 when cached. */
  synthMs: number;
}

export interface SynthAssemblyOptions {
  /** Where assemblies are cached (default: <tmpdir>/baton-local-assemblies). */
  cacheDir?: string;
  /** The Baton config file the agents come from (part of the cache key). */
  configPath?: string;
  /** Model config at synth, as bin/app.ts reads it (default: BATON_MODEL_CONFIG). */
  modelConfig?: string;
}

/** Assemblies kept in the cache; older ones are removed (a full test run uses four or five). */
const KEEP = 8;

/** Synthesizes the stack with bundling (or takes it from the cache) and returns its assembly. */
export function synthAssembly(
  agents: Map<string, AgentEntry>,
  opts: SynthAssemblyOptions = {},
): BundledAssembly {
  const cacheDir = resolve(opts.cacheDir ?? join(tmpdir(), 'baton-local-assemblies'));
  const rawModel = opts.modelConfig ?? process.env[MODEL_CONFIG_ENV];
  const key = assemblyKey(agents, opts.configPath, rawModel);
  const dir = join(cacheDir, key);
  const templateFile = join(dir, `${LOCAL_STACK}.template.json`);
  if (existsSync(join(dir, 'complete'))) {
    return {
      dir,
      template: JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate,
      cached: true,
      synthMs: 0,
    };
  }
  mkdirSync(cacheDir, { recursive: true });
  const started = Date.now();
  const outdir = mkdtempSync(join(cacheDir, `.synth-${key.slice(0, 8)}-`));
  const validation = process.env.CDK_VALIDATION;
  // cdk-nag runs on `cdk synth`; local start-up skips it (it takes seconds).
  process.env.CDK_VALIDATION = 'false';
  try {
    const batonConfig = loadBatonConfig(opts.configPath).config;
    const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
    new BatonStack(app, LOCAL_STACK, {
      agents,
      modelConfig: modelConfigOf(rawModel),
      intakeSweepAfterSeconds: batonConfig.intake?.sweepAfterSeconds,
      ...(batonConfig.fanOut ? { fanOutSourceBuckets: batonConfig.fanOut.sourceBuckets } : {}),
      env: { account: LOCAL_ACCOUNT, region: LOCAL_REGION },
    });
    app.synth();
    writeFileSync(join(outdir, 'complete'), new Date().toISOString());
    try {
      renameSync(outdir, dir);
    } catch (err) {
      // Another runtime finished the same assembly first: use theirs.
      if (!existsSync(join(dir, 'complete'))) throw err;
      rmSync(outdir, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(outdir, { recursive: true, force: true });
    throw err;
  } finally {
    if (validation === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = validation;
  }
  prune(cacheDir, key);
  return {
    dir,
    template: JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate,
    cached: false,
    synthMs: Date.now() - started,
  };
}

/** The bundle directory of a function resource, from its `aws:asset:path` metadata. */
export function assetDirOf(assembly: BundledAssembly, logicalId: string): string {
  const resource = assembly.template.Resources[logicalId];
  const path = resource?.Metadata?.[ASSET_PATH_METADATA];
  if (typeof path !== 'string')
    throw new TemplateError(
      `${logicalId} has no ${ASSET_PATH_METADATA} metadata: it was synthesized without its bundle`,
    );
  const dir = resolve(assembly.dir, path);
  if (!existsSync(dir)) throw new TemplateError(`The bundle of ${logicalId} (${dir}) is missing`);
  return dir;
}

function modelConfigOf(raw: string | undefined): ModelConfig | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return parseModelConfig(JSON.parse(raw), `model config (${MODEL_CONFIG_ENV})`);
}

/** Folders whose files go into the bundles or the template. */
const SOURCE_DIRS = ['lambdas', 'lib/aws', 'lib/workflow', 'lib/console', 'lib/client'];
const SOURCE_FILES = ['package-lock.json', 'package.json', 'tsconfig.json'];

function assemblyKey(
  agents: Map<string, AgentEntry>,
  configPath: string | undefined,
  model: string | undefined,
): string {
  const hash = createHash('sha256');
  const add = (label: string, content: string | Buffer) => {
    hash.update(`${label}\0${content.length}\0`);
    hash.update(content);
  };
  add('model', model ?? '');
  add('config', configPath ? `${resolve(configPath)}\0${readIfFile(configPath)}` : '');
  const files = new Set<string>();
  for (const d of SOURCE_DIRS) for (const f of filesUnder(resolve(PROJECT_ROOT, d))) files.add(f);
  for (const f of SOURCE_FILES) files.add(resolve(PROJECT_ROOT, f));
  // A registered agent's module and whatever sits next to it (its own imports, usually).
  for (const agent of agents.values())
    if (!agent.builtin) for (const f of filesUnder(dirname(agent.modulePath))) files.add(f);
  for (const agent of agents.values())
    add('agent', `${agent.name}\0${agent.modulePath}\0${agent.exportName}`);
  for (const f of [...files].sort()) add(relative(PROJECT_ROOT, f), readIfFile(f));
  return hash.digest('hex').slice(0, 32);
}

function readIfFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    return Buffer.alloc(0);
  }
}

function filesUnder(dir: string, depth = 0): string[] {
  if (depth > 6 || !existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path, depth + 1));
    else if (entry.isFile() && statSync(path).size < 4 * 1024 * 1024) out.push(path);
  }
  return out;
}

/** Keeps the newest assemblies; a stale temporary one (a crashed synth) goes as well. */
function prune(cacheDir: string, current: string): void {
  const entries = readdirSync(cacheDir)
    .filter((name) => name !== current)
    .map((name) => ({ name, at: statSync(join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  const hourAgo = Date.now() - 3_600_000;
  for (const [i, e] of entries.entries()) {
    const temporary = e.name.startsWith('.synth-');
    if ((temporary && e.at < hourAgo) || (!temporary && i >= KEEP - 1))
      rmSync(join(cacheDir, e.name), { recursive: true, force: true });
  }
}
