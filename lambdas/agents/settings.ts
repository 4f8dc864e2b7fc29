/**
 * What an agent may use besides its input: which tools (and their config), which model, and its
 * token budgets. Settings come from the Baton config (`agents.<name>.tools|model|budget`, plus a
 * deployment-wide `budget`), laid over the built-in agents' defaults. Pure: no I/O here.
 *
 *   { "agents": {
 *       "research": { "tools": { "search": { "corpusDir": "./docs" }, "http": { "allowHosts": ["*.wikipedia.org"] } } },
 *       "coding":   { "tools": { "shell": { "enabled": true } }, "model": { "modelId": "us.anthropic.claude-3-5-sonnet-20241022-v2:0" } },
 *       "echo":     { "handler": "./agents/echo.mjs#handler" } },
 *     "budget": { "taskTokens": 200000 } }
 *
 * Tool rules: a tool section present = the tool exists for the agent (shell still needs
 * `enabled: true`); `allow` defaults to every configured tool (each MCP server as `<name>.*`).
 */
import * as z from 'zod';
import { ModelConfigOverride } from '../models/config.js';
import { BUILTIN_TOOLS, TOOL_SECTIONS, ToolsConfig } from '../tools/index.js';
import {
  BudgetSettings,
  settingsFromEnvWith,
  ToolAllowList,
  toolNamesOf,
  toolPathsResolved,
} from './settings-core.js';

export {
  AGENT_SETTINGS_ENV,
  AgentSettingsError,
  BudgetSettings,
  toToolsConfig,
} from './settings-core.js';

/**
 * An agent's `tools` section: one section per tool kind, each declared once by its tool
 * definition (lambdas/tools/*.ts, `defineTool`), plus the allow-list.
 */
export const AgentToolsSettings = ToolsConfig.extend({
  /** Tool names or patterns ending in `*`; default: every tool configured for the agent. */
  allow: ToolAllowList,
}).strict();
export type AgentToolsSettings = z.infer<typeof AgentToolsSettings>;

/** An agent's resolved settings: what the harness builds its context from. */
export const AgentSettings = z
  .object({
    tools: AgentToolsSettings.default({}),
    model: ModelConfigOverride.optional(),
    budget: BudgetSettings.default({}),
  })
  .strict();
export type AgentSettings = z.infer<typeof AgentSettings>;

/** The configured tool names of `tools` (MCP servers as `<name>.*`). */
export function configuredToolNames(tools: AgentToolsSettings): string[] {
  return toolNamesOf(tools, BUILTIN_TOOLS);
}

/** Relative paths (each tool definition's `paths`: corpus folder, scratch root, wasm, MCP cwd) resolved against the config's folder. */
export function resolveToolPaths(tools: AgentToolsSettings, baseDir: string): AgentToolsSettings {
  return toolPathsResolved(tools, baseDir, BUILTIN_TOOLS);
}

/**
 * An agent's settings: its default tools (a built-in agent's `defaultTools`) with the configured
 * sections laid over them, section by section; the agent's budget over the deployment's. `allow`
 * is made explicit. (registry.ts `resolveAgentSettings` looks the defaults up by agent name.)
 */
export function layAgentSettings(
  defaults: AgentToolsSettings,
  configured: { tools?: AgentToolsSettings; model?: ModelConfigOverride; budget?: BudgetSettings } = {},
  deployment: { budget?: BudgetSettings } = {},
): AgentSettings {
  const given = configured.tools ?? {};
  const tools: Record<string, unknown> = {};
  for (const section of TOOL_SECTIONS) {
    const base = defaults[section];
    const over = given[section];
    const merged = isSection(base) && isSection(over) ? { ...base, ...over } : (over ?? base);
    if (merged !== undefined) tools[section] = isSection(merged) ? { ...merged } : merged;
  }
  const laid = tools as AgentToolsSettings;
  laid.allow = given.allow ?? configuredToolNames(laid);
  return {
    tools: laid,
    ...(configured.model ? { model: configured.model } : {}),
    budget: { ...deployment.budget, ...configured.budget },
  };
}

/** An object section (laid over key by key); list sections (MCP servers) replace each other. */
function isSection(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads `BATON_AGENT_SETTINGS` (every built-in tool kind); undefined when it is not set. */
export function settingsFromEnv(
  env: Record<string, string | undefined> = process.env,
): Map<string, AgentSettings> | undefined {
  return settingsFromEnvWith(AgentSettings, env);
}
