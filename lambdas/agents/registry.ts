/**
 * Agents by name. Built-in agents ship with Baton, one `defineAgent` definition each
 * (BUILTIN_AGENTS); more are registered in a JSON config file (path in BATON_CONFIG), e.g.
 * `{ "agents": { "echo": { "handler": "./agents/echo.mjs#handler" } } }`, handler paths relative
 * to the config file; a registered module exports a definition or a bare handler. The same
 * config drives `cdk synth` (one Lambda per agent) and local mode (agents loaded in process).
 *
 * Any entry may also give the agent's `tools`, `model` and `budget` (see settings.ts). An entry
 * named after a built-in agent has no `handler`: it only configures that agent, e.g.
 * `{ "agents": { "coding": { "tools": { "shell": { "enabled": true } } } } }`.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from 'zod';
import { BatonError, ErrorNames } from '../core/errors.js';
import { AgentName } from '../core/schemas.js';
import { ModelConfigOverride } from '../models/config.js';
import { BUILTIN_AGENTS, builtinAgent } from './builtin.js';
import { type AgentModule, isAgentDefinition } from './define.js';
import {
  type AgentSettings,
  AgentToolsSettings,
  BudgetSettings,
  layAgentSettings,
  resolveToolPaths,
} from './settings.js';

export class AgentConfigError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.AgentConfigError;
  }
}

export const AgentConfigEntry = z
  .object({
    /** Required for a registered agent; absent for a built-in one (its entry only configures it). */
    handler: z
      .string()
      .regex(/^[^#]+(#[A-Za-z_$][\w$]*)?$/, 'use "<path>#<export>", e.g. "./agents/echo.mjs#handler"')
      .optional(),
    description: z.string().max(500).optional(),
    /** Lambda timeout for this agent (the step's own timeoutSeconds applies inside it). */
    timeoutSeconds: z.number().int().min(1).max(900).optional(),
    memoryMb: z.number().int().min(128).max(10240).optional(),
    /** Tool config (http, shell, db, search, mcp) and the allow-list `allow`. */
    tools: AgentToolsSettings.optional(),
    /** Overrides the deployment's model (BATON_MODEL_CONFIG) for this agent. */
    model: ModelConfigOverride.optional(),
    /** Token budgets of this agent's steps (over the deployment's `budget`). */
    budget: BudgetSettings.optional(),
  })
  .strict();
export type AgentConfigEntry = z.infer<typeof AgentConfigEntry>;

export const BatonConfig = z
  .object({
    agents: z.record(AgentName, AgentConfigEntry).default({}),
    /** Deployment-wide token budgets: per step attempt and per task. */
    budget: BudgetSettings.optional(),
    /** Intake: how long a task may stay QUEUED before the sweeper sends its start again (default 300 s). */
    intake: z
      .object({ sweepAfterSeconds: z.number().int().min(1).max(86_400).optional() })
      .strict()
      .optional(),
    /**
     * Fan-out steps: the buckets an `s3://<bucket>/<prefix>` item source may name (PrepareItems
     * may list them; agents get object references, never access). Locally they are created empty
     * in the S3 emulator at start.
     */
    fanOut: z
      .object({
        sourceBuckets: z
          .array(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'))
          .max(100),
      })
      .strict()
      .optional(),
  })
  .strict();
export type BatonConfig = z.infer<typeof BatonConfig>;

export interface AgentEntry {
  name: string;
  /** Absolute path of the module that exports the handler. */
  modulePath: string;
  exportName: string;
  builtin: boolean;
  description: string;
  timeoutSeconds?: number;
  memoryMb?: number;
  /** Tools, model override and budgets, resolved (built-in defaults applied, paths absolute). */
  settings: AgentSettings;
}

const here = dirname(fileURLToPath(import.meta.url));

export { BUILTIN_AGENTS, builtinAgent } from './builtin.js';

/**
 * An agent's settings: its definition's default tools (built-in agents; none for others) with the
 * configured sections laid over them, and its budget over the deployment's (settings.ts).
 */
export function resolveAgentSettings(
  name: string,
  configured?: Parameters<typeof layAgentSettings>[1],
  deployment?: Parameters<typeof layAgentSettings>[2],
): AgentSettings {
  return layAgentSettings(builtinAgent(name)?.defaultTools ?? {}, configured, deployment);
}

/** JSON of every agent's settings, for the `BATON_AGENT_SETTINGS` variable of the agent functions. */
export function agentSettingsJson(agents: Map<string, AgentEntry>): string {
  return JSON.stringify(Object.fromEntries([...agents].map(([name, e]) => [name, e.settings])));
}

/** Reads the config named by `path` (default: BATON_CONFIG); no path means built-in agents only. */
export function loadBatonConfig(path = process.env.BATON_CONFIG): { config: BatonConfig; baseDir: string } {
  if (!path) return { config: { agents: {} }, baseDir: process.cwd() };
  const file = resolve(path);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AgentConfigError(`Cannot read the Baton config ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const parsed = BatonConfig.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AgentConfigError(`The Baton config ${file} is not valid: ${issues}`);
  }
  return { config: parsed.data, baseDir: dirname(file) };
}

/** Built-in agents plus the registered ones (a registered agent may not reuse a built-in name). */
export function agentCatalog(
  loaded: { config: BatonConfig; baseDir: string } = loadBatonConfig(),
): Map<string, AgentEntry> {
  const out = new Map<string, AgentEntry>();
  const { config, baseDir } = loaded;
  const settingsOf = (name: string, entry?: AgentConfigEntry) =>
    resolveAgentSettings(
      name,
      {
        ...(entry?.tools ? { tools: resolveToolPaths(entry.tools, baseDir) } : {}),
        ...(entry?.model ? { model: entry.model } : {}),
        ...(entry?.budget ? { budget: entry.budget } : {}),
      },
      { ...(config.budget ? { budget: config.budget } : {}) },
    );
  for (const b of BUILTIN_AGENTS) {
    const name = b.name;
    const entry = config.agents[name];
    if (entry?.handler) {
      throw new AgentConfigError(
        `Agent "${name}" is built in; register yours under another name (an entry without "handler" configures the built-in one).`,
      );
    }
    out.set(name, {
      name,
      modulePath: resolve(here, `${name}.ts`),
      exportName: name,
      builtin: true,
      description: entry?.description ?? b.description,
      ...(entry?.timeoutSeconds ? { timeoutSeconds: entry.timeoutSeconds } : {}),
      ...(entry?.memoryMb ? { memoryMb: entry.memoryMb } : {}),
      settings: settingsOf(name, entry),
    });
  }
  for (const [name, entry] of Object.entries(config.agents)) {
    if (out.has(name)) continue;
    if (!entry.handler) {
      throw new AgentConfigError(
        `Agent "${name}" is not built in, so its entry needs a "handler" ("<path>#<export>", relative to the config file). Built-in agents: ${BUILTIN_AGENTS.map((a) => a.name).join(', ')}.`,
      );
    }
    const [file, exportName = 'handler'] = entry.handler.split('#') as [string, string?];
    out.set(name, {
      name,
      modulePath: isAbsolute(file) ? file : resolve(baseDir, file),
      exportName,
      builtin: false,
      description: entry.description ?? `Registered agent ${name}`,
      timeoutSeconds: entry.timeoutSeconds,
      memoryMb: entry.memoryMb,
      settings: settingsOf(name, entry),
    });
  }
  return out;
}

/**
 * Imports an agent (local mode and tests; Lambda bundles import it statically): a `defineAgent`
 * definition, whose name must be the agent's name in the config, or a bare handler.
 */
export async function loadAgent(entry: AgentEntry): Promise<AgentModule> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(entry.modulePath).href)) as Record<string, unknown>;
  } catch (err) {
    throw new AgentConfigError(
      `Cannot load agent "${entry.name}" from ${entry.modulePath}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const agent = mod[entry.exportName];
  if (isAgentDefinition(agent)) {
    if (agent.name !== entry.name) {
      throw new AgentConfigError(
        `${entry.modulePath} exports "${entry.exportName}", the definition of agent "${agent.name}", but the config registers it as "${entry.name}"; use one name`,
      );
    }
    return agent;
  }
  if (typeof agent !== 'function') {
    throw new AgentConfigError(
      `${entry.modulePath} does not export a function or a defineAgent definition "${entry.exportName}" (agent "${entry.name}")`,
    );
  }
  return agent as AgentModule;
}

/** Agent names from the environment the stack sets (BATON_AGENT_NAMES), else from the config. */
export function knownAgentNames(fromEnv = process.env.BATON_AGENT_NAMES): Set<string> {
  if (fromEnv) return new Set(fromEnv.split(',').filter(Boolean));
  return new Set(agentCatalog().keys());
}
