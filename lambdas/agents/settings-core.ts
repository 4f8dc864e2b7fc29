/**
 * The rules of agent settings (settings.ts) over the tool kinds at hand, without any tool's
 * implementation: an agent's bundle reads and resolves its settings with the kinds it carries
 * (lambda.ts); settings.ts binds the same rules to every built-in kind. Pure: no I/O here.
 */
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import { BatonError, ErrorNames } from '../core/errors.js';
import { ModelConfigOverride } from '../models/config.js';
import type { ToolsConfig } from '../tools/index.js';
import { eachSection, type ToolKinds, toolSectionsSchema } from '../tools/kinds.js';
import type { AgentSettings, AgentToolsSettings } from './settings.js';

const PositiveInt = z.number().int().positive();

export const BudgetSettings = z
  .object({
    /** Most tokens one step attempt may use (a step input's `tokenBudget` wins). */
    stepTokens: PositiveInt.optional(),
    /** Most tokens a whole task may use, counted from its ModelCalled events. */
    taskTokens: PositiveInt.optional(),
  })
  .strict();
export type BudgetSettings = z.infer<typeof BudgetSettings>;

/** The allow-list beside the tool sections: tool names or patterns ending in `*`. */
export const ToolAllowList = z.array(z.string().min(1)).optional();

/** The schema of an agent's settings whose tool sections are those of `kinds`. */
export function agentSettingsSchema(kinds: ToolKinds): z.ZodType<AgentSettings> {
  const tools = toolSectionsSchema(kinds).extend({ allow: ToolAllowList }).strict();
  return z
    .object({
      tools: tools.default({}),
      model: ModelConfigOverride.optional(),
      budget: BudgetSettings.default({}),
    })
    .strict() as unknown as z.ZodType<AgentSettings>;
}

/** The configured tool names of `tools` (MCP servers as `<name>.*`). */
export function toolNamesOf(tools: AgentToolsSettings, kinds: ToolKinds): string[] {
  const names: string[] = [];
  eachSection(tools, kinds, (kind, section) => names.push(...kind.toolNames(section)));
  return names;
}

/** Relative paths (each kind's `paths`: corpus folder, scratch root, wasm, MCP cwd) resolved against `baseDir`. */
export function toolPathsResolved(
  tools: AgentToolsSettings,
  baseDir: string,
  kinds: ToolKinds,
): AgentToolsSettings {
  const out: Record<string, unknown> = { ...tools };
  eachSection(tools, kinds, (kind, section, name) => {
    out[name] = kind.resolvePaths(section, (path) => (isAbsolute(path) ? path : resolve(baseDir, path)));
  });
  return out as AgentToolsSettings;
}

/** The tool runtime's config for these settings (shell stays off unless enabled). */
export function toToolsConfig(tools: AgentToolsSettings): ToolsConfig {
  const { allow: _allow, ...sections } = tools;
  const config: ToolsConfig = { ...sections };
  if (config.shell) config.shell = { ...config.shell, enabled: config.shell.enabled === true };
  return config;
}

/** The environment variable the stack sets on agent functions: JSON `{ "<agent>": AgentSettings }`. */
export const AGENT_SETTINGS_ENV = 'BATON_AGENT_SETTINGS';

export class AgentSettingsError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.AgentSettingsError;
  }
}

/** Reads `BATON_AGENT_SETTINGS` with `schema` (each agent's settings); undefined when it is not set. */
export function settingsFromEnvWith(
  schema: z.ZodType<AgentSettings>,
  env: Record<string, string | undefined> = process.env,
): Map<string, AgentSettings> | undefined {
  const raw = env[AGENT_SETTINGS_ENV]?.trim();
  if (!raw) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new AgentSettingsError(`${AGENT_SETTINGS_ENV} is not JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const parsed = z.record(z.string(), schema).safeParse(json);
  if (!parsed.success) {
    throw new AgentSettingsError(`${AGENT_SETTINGS_ENV} is not valid: ${z.prettifyError(parsed.error)}`);
  }
  return new Map(Object.entries(parsed.data));
}
