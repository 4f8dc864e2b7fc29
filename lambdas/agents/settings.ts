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
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { BatonError, ErrorNames } from '../core/errors.js';
import { ModelConfigOverride } from '../models/index.js';
import type { ToolsConfig } from '../tools/index.js';

const PositiveInt = z.number().int().positive();

export const HttpToolSettings = z
  .object({
    allowHosts: z.array(z.string().min(1)).optional(),
    allowPrivate: z.union([z.boolean(), z.array(z.string().min(1))]).optional(),
    maxBytes: PositiveInt.optional(),
    timeoutMs: PositiveInt.optional(),
    maxRedirects: z.number().int().min(0).max(20).optional(),
    userAgent: z.string().min(1).max(200).optional(),
  })
  .strict();

export const ShellToolSettings = z
  .object({
    enabled: z.boolean().optional(),
    timeoutMs: PositiveInt.optional(),
    maxOutputBytes: PositiveInt.optional(),
    scratchRoot: z.string().min(1).optional(),
  })
  .strict();

export const DbToolSettings = z
  .object({ maxRows: PositiveInt.optional(), wasmPath: z.string().min(1).optional() })
  .strict();

export const SearchToolSettings = z
  .object({
    /** A folder of text/markdown files; relative to the config file. */
    corpusDir: z.string().min(1).optional(),
    maxResults: PositiveInt.optional(),
    cacheIndex: z.boolean().optional(),
  })
  .strict();

const McpName = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'use 1-40 letters, digits, "_" or "-"');
export const McpServerSettings = z.discriminatedUnion('transport', [
  z
    .object({
      name: McpName,
      transport: z.literal('stdio'),
      command: z.string().min(1),
      args: z.array(z.string()).optional(),
      env: z.record(z.string(), z.string()).optional(),
      cwd: z.string().min(1).optional(),
      timeoutMs: PositiveInt.optional(),
    })
    .strict(),
  z
    .object({
      name: McpName,
      transport: z.literal('http'),
      url: z.url({ protocol: /^https?$/ }),
      headers: z.record(z.string(), z.string()).optional(),
      timeoutMs: PositiveInt.optional(),
    })
    .strict(),
]);

export const AgentToolsSettings = z
  .object({
    /** Tool names or patterns ending in `*`; default: every tool configured for the agent. */
    allow: z.array(z.string().min(1)).optional(),
    http: HttpToolSettings.optional(),
    shell: ShellToolSettings.optional(),
    db: DbToolSettings.optional(),
    search: SearchToolSettings.optional(),
    mcp: z.array(McpServerSettings).max(20).optional(),
  })
  .strict();
export type AgentToolsSettings = z.infer<typeof AgentToolsSettings>;

export const BudgetSettings = z
  .object({
    /** Most tokens one step attempt may use (a step input's `tokenBudget` wins). */
    stepTokens: PositiveInt.optional(),
    /** Most tokens a whole task may use, counted from its ModelCalled events. */
    taskTokens: PositiveInt.optional(),
  })
  .strict();
export type BudgetSettings = z.infer<typeof BudgetSettings>;

/** An agent's resolved settings: what the harness builds its context from. */
export const AgentSettings = z
  .object({
    tools: AgentToolsSettings.default({}),
    model: ModelConfigOverride.optional(),
    budget: BudgetSettings.default({}),
  })
  .strict();
export type AgentSettings = z.infer<typeof AgentSettings>;

/** Tool defaults of the built-in agents (configuration is laid over them, section by section). */
export const BUILTIN_TOOL_DEFAULTS: Record<string, AgentToolsSettings> = {
  research: { search: {}, http: {} },
  data: { db: {} },
  coding: { shell: { enabled: false } },
  writing: {},
  review: {},
};

const TOOL_SECTIONS = ['http', 'shell', 'db', 'search'] as const;

/** The configured tool names of `tools` (MCP servers as `<name>.*`). */
export function configuredToolNames(tools: AgentToolsSettings): string[] {
  return [
    ...TOOL_SECTIONS.filter((s) => tools[s] !== undefined),
    ...(tools.mcp ?? []).map((m) => `${m.name}.*`),
  ];
}

function absolute(path: string, baseDir: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/** Relative paths (corpus folder, scratch root, wasm, MCP cwd) resolved against the config's folder. */
export function resolveToolPaths(tools: AgentToolsSettings, baseDir: string): AgentToolsSettings {
  const out: AgentToolsSettings = { ...tools };
  if (tools.search?.corpusDir)
    out.search = { ...tools.search, corpusDir: absolute(tools.search.corpusDir, baseDir) };
  if (tools.shell?.scratchRoot)
    out.shell = { ...tools.shell, scratchRoot: absolute(tools.shell.scratchRoot, baseDir) };
  if (tools.db?.wasmPath) out.db = { ...tools.db, wasmPath: absolute(tools.db.wasmPath, baseDir) };
  if (tools.mcp) {
    out.mcp = tools.mcp.map((m) =>
      m.transport === 'stdio' && m.cwd ? { ...m, cwd: absolute(m.cwd, baseDir) } : m,
    );
  }
  return out;
}

/**
 * An agent's settings: the built-in defaults (if any) with the configured sections laid over
 * them; the agent's budget over the deployment's. `allow` is made explicit.
 */
export function resolveAgentSettings(
  name: string,
  configured: { tools?: AgentToolsSettings; model?: ModelConfigOverride; budget?: BudgetSettings } = {},
  deployment: { budget?: BudgetSettings } = {},
): AgentSettings {
  const defaults = BUILTIN_TOOL_DEFAULTS[name] ?? {};
  const given = configured.tools ?? {};
  const tools: AgentToolsSettings = {};
  for (const section of TOOL_SECTIONS) {
    const merged =
      defaults[section] || given[section] ? { ...defaults[section], ...given[section] } : undefined;
    if (merged) Object.assign(tools, { [section]: merged });
  }
  const mcp = given.mcp ?? defaults.mcp;
  if (mcp) tools.mcp = mcp;
  tools.allow = given.allow ?? configuredToolNames(tools);
  return {
    tools,
    ...(configured.model ? { model: configured.model } : {}),
    budget: { ...deployment.budget, ...configured.budget },
  };
}

/** The tool runtime's config for these settings (shell stays off unless enabled). */
export function toToolsConfig(tools: AgentToolsSettings): ToolsConfig {
  const config: ToolsConfig = {};
  if (tools.http) config.http = { ...tools.http };
  if (tools.shell) config.shell = { ...tools.shell, enabled: tools.shell.enabled === true };
  if (tools.db) config.db = { ...tools.db };
  if (tools.search) config.search = { ...tools.search };
  if (tools.mcp) config.mcp = tools.mcp.map((m) => ({ ...m }));
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

/** Reads `BATON_AGENT_SETTINGS`; undefined when it is not set. */
export function settingsFromEnv(
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
  const parsed = z.record(z.string(), AgentSettings).safeParse(json);
  if (!parsed.success) {
    throw new AgentSettingsError(`${AGENT_SETTINGS_ENV} is not valid: ${z.prettifyError(parsed.error)}`);
  }
  return new Map(Object.entries(parsed.data));
}
