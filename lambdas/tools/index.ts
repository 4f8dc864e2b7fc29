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
import { buildToolSet, eachSection, TOOL_SECTIONS, type ToolSection } from './kinds.js';
import { mcpTools } from './mcp.js';
import { searchTool } from './search.js';
import { shellTool } from './shell.js';

/**
 * Every tool kind, by config section, in the order their tools are listed (TOOL_SECTIONS in
 * kinds.ts, which also says which module defines each: an agent's bundle imports only its own).
 */
export const BUILTIN_TOOLS = {
  http: httpTool,
  shell: shellTool,
  db: dbTool,
  search: searchTool,
  mcp: mcpTools,
} as const satisfies Record<ToolSection, ToolKind>;
export { TOOL_MODULES, TOOL_SECTIONS, type ToolKinds, type ToolSection } from './kinds.js';

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
  eachSection(config, BUILTIN_TOOLS, fn);
}

/** The tools named in `config`, built by their definitions; all or none (MCP connections closed on failure). */
export function buildTools(config: ToolsConfig): Promise<ToolSet> {
  return buildToolSet(config, BUILTIN_TOOLS);
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
