/**
 * Agents by name. Built-in agents ship with Baton; more are registered in a JSON config file
 * (path in BATON_CONFIG), e.g. `{ "agents": { "echo": { "handler": "./agents/echo.mjs#handler" } } }`,
 * handler paths relative to the config file. The same config drives `cdk synth` (one Lambda per
 * agent) and local mode (agents loaded in process).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { AgentName, type AgentHandler } from '../core/schemas.js';

export class AgentConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Baton.AgentConfigError';
  }
}

export const AgentConfigEntry = z
  .object({
    handler: z.string().regex(/^[^#]+(#[A-Za-z_$][\w$]*)?$/, 'use "<path>#<export>", e.g. "./agents/echo.mjs#handler"'),
    description: z.string().max(500).optional(),
    /** Lambda timeout for this agent (the step's own timeoutSeconds applies inside it). */
    timeoutSeconds: z.number().int().min(1).max(900).optional(),
    memoryMb: z.number().int().min(128).max(10240).optional(),
  })
  .strict();

export const BatonConfig = z
  .object({
    agents: z.record(AgentName, AgentConfigEntry).default({}),
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
}

const here = dirname(fileURLToPath(import.meta.url));

/** The agents that ship with Baton. */
export const BUILTIN_AGENTS: Record<string, { file: string; exportName: string; description: string }> = {
  research: { file: 'research.ts', exportName: 'handler', description: 'Gathers material on a topic and writes cited notes' },
  writing: { file: 'writing.ts', exportName: 'handler', description: 'Composes a document from upstream results' },
};

/** Reads the config named by `path` (default: BATON_CONFIG); no path means built-in agents only. */
export function loadBatonConfig(path = process.env.BATON_CONFIG): { config: BatonConfig; baseDir: string } {
  if (!path) return { config: { agents: {} }, baseDir: process.cwd() };
  const file = resolve(path);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AgentConfigError(`Cannot read the Baton config ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = BatonConfig.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AgentConfigError(`The Baton config ${file} is not valid: ${issues}`);
  }
  return { config: parsed.data, baseDir: dirname(file) };
}

/** Built-in agents plus the registered ones (a registered agent may not reuse a built-in name). */
export function agentCatalog(loaded: { config: BatonConfig; baseDir: string } = loadBatonConfig()): Map<string, AgentEntry> {
  const out = new Map<string, AgentEntry>();
  for (const [name, b] of Object.entries(BUILTIN_AGENTS)) {
    out.set(name, {
      name,
      modulePath: resolve(here, b.file),
      exportName: b.exportName,
      builtin: true,
      description: b.description,
    });
  }
  for (const [name, entry] of Object.entries(loaded.config.agents)) {
    if (out.has(name)) throw new AgentConfigError(`Agent "${name}" is built in; register yours under another name.`);
    const [file, exportName = 'handler'] = entry.handler.split('#') as [string, string?];
    out.set(name, {
      name,
      modulePath: isAbsolute(file) ? file : resolve(loaded.baseDir, file),
      exportName,
      builtin: false,
      description: entry.description ?? `Registered agent ${name}`,
      timeoutSeconds: entry.timeoutSeconds,
      memoryMb: entry.memoryMb,
    });
  }
  return out;
}

/** Imports an agent's handler (local mode and tests; Lambda bundles import it statically). */
export async function loadAgent(entry: AgentEntry): Promise<AgentHandler> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(entry.modulePath).href)) as Record<string, unknown>;
  } catch (err) {
    throw new AgentConfigError(`Cannot load agent "${entry.name}" from ${entry.modulePath}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const fn = mod[entry.exportName];
  if (typeof fn !== 'function') {
    throw new AgentConfigError(`${entry.modulePath} does not export a function "${entry.exportName}" (agent "${entry.name}")`);
  }
  return fn as AgentHandler;
}

/** Agent names from the environment the stack sets (BATON_AGENT_NAMES), else from the config. */
export function knownAgentNames(): Set<string> {
  const fromEnv = process.env.BATON_AGENT_NAMES;
  if (fromEnv) return new Set(fromEnv.split(',').filter(Boolean));
  return new Set(agentCatalog().keys());
}
