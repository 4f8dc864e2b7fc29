/**
 * The tool runtime's entry point: build the configured tools (built-ins and MCP servers) and
 * put them behind a ToolRuntime per agent allow-list.
 *
 *   const toolset = await buildTools({ http: {}, db: {}, mcp: [{ name: 'docs', transport: 'http', url }] });
 *   const runtime = createToolRuntime({ allow: ['http', 'db', 'docs.*'], tools: toolset.tools, onCall });
 *   ...
 *   await toolset.close(); // ends MCP connections (stdio servers are child processes)
 */
import * as z from 'zod';
import { dbTool } from './db.js';
import type { ToolKind, ToolSet } from './define.js';
import { httpTool } from './http.js';
import { mcpTools } from './mcp.js';
import { searchTool } from './search.js';
import { shellTool } from './shell.js';
import type { Tool } from './types.js';

/** Every tool kind, by config section, in the order their tools are listed. */
export const BUILTIN_TOOLS = {
  http: httpTool,
  shell: shellTool,
  db: dbTool,
  search: searchTool,
  mcp: mcpTools,
} as const satisfies Record<string, ToolKind>;
export type ToolSection = keyof typeof BUILTIN_TOOLS;
export const TOOL_SECTIONS = Object.keys(BUILTIN_TOOLS) as ToolSection[];

type Sections = { [K in ToolSection]: z.ZodOptional<(typeof BUILTIN_TOOLS)[K]['config']> };
const sections = Object.fromEntries(
  TOOL_SECTIONS.map((name) => [name, BUILTIN_TOOLS[name].config.optional()]),
) as Sections;

/**
 * The tool runtime's config: one optional section per tool kind, each the kind's own config
 * schema (a section present = the tool exists; shell still needs `enabled`).
 */
export const ToolsConfig = z.object(sections).strict();
export type ToolsConfig = z.infer<typeof ToolsConfig>;

export type { ToolSet } from './define.js';

/** Calls `fn` with each configured section and its kind, in BUILTIN_TOOLS order. */
export function forEachSection(
  config: ToolsConfig,
  fn: (kind: ToolKind, section: unknown, name: ToolSection) => void,
): void {
  for (const name of TOOL_SECTIONS) {
    const section = config[name];
    if (section !== undefined) fn(BUILTIN_TOOLS[name] as ToolKind, section, name);
  }
}

/** The tools named in `config`, built by their definitions; all or none (MCP connections closed on failure). */
export async function buildTools(config: ToolsConfig): Promise<ToolSet> {
  const pending: Promise<ToolSet>[] = [];
  forEachSection(config, (kind, section) => pending.push(kind.build(section)));
  const settled = await Promise.allSettled(pending);
  const sets = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const close = async () => {
    await Promise.allSettled(sets.splice(0).map((set) => set.close()));
  };
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  const tools: Tool[] = sets.flatMap((set) => set.tools);
  return { tools, close };
}

export { createDbTool, type DbInput, type DbOutput, DbToolConfig, dbTool, tableName } from './db.js';
export {
  type DefinedTool,
  defineTool,
  defineToolSource,
  type ToolImplementation,
  type ToolKind,
} from './define.js';
export * from './errors.js';
export {
  createHttpTool,
  type HttpInput,
  type HttpOutput,
  HttpToolConfig,
  httpTool,
  nonPublicReason,
} from './http.js';
export {
  connectMcpServer,
  type McpConnection,
  McpServerConfig,
  type McpToolOutput,
  mcpTools,
} from './mcp.js';
export {
  createToolRuntime,
  digestArgs,
  type ToolRuntime,
  type ToolRuntimeConfig,
  toolJsonSchema,
} from './runtime.js';
export {
  artifactCorpus,
  type CorpusEntry,
  type CorpusSource,
  createSearchTool,
  folderCorpus,
  type SearchHit,
  type SearchInput,
  type SearchOutput,
  SearchToolConfig,
  searchTool,
} from './search.js';
export { createShellTool, type ShellInput, type ShellOutput, ShellToolConfig, shellTool } from './shell.js';
export type * from './types.js';
