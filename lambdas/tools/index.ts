/**
 * The tool runtime's entry point: build the configured tools (built-ins and MCP servers) and
 * put them behind a ToolRuntime per agent allow-list.
 *
 *   const toolset = await buildTools({ http: {}, db: {}, mcp: [{ name: 'docs', transport: 'http', url }] });
 *   const runtime = createToolRuntime({ allow: ['http', 'db', 'docs.*'], tools: toolset.tools, onCall });
 *   ...
 *   await toolset.close(); // ends MCP connections (stdio servers are child processes)
 */
import { createDbTool, type DbToolConfig } from './db.js';
import { createHttpTool, type HttpToolConfig } from './http.js';
import { connectMcpServer, type McpConnection, type McpServerConfig } from './mcp.js';
import { createSearchTool, type SearchToolConfig } from './search.js';
import { createShellTool, type ShellToolConfig } from './shell.js';
import type { Tool } from './types.js';

export interface ToolsConfig {
  http?: HttpToolConfig;
  shell?: ShellToolConfig;
  db?: DbToolConfig;
  search?: SearchToolConfig;
  mcp?: McpServerConfig[];
}

export interface ToolSet {
  tools: Tool[];
  /** Close MCP connections. Safe to call more than once. */
  close(): Promise<void>;
}

/** The tools named in `config` (a section present = the tool exists; shell still needs `enabled`). */
export async function buildTools(config: ToolsConfig): Promise<ToolSet> {
  const tools: Tool[] = [];
  if (config.http) tools.push(createHttpTool(config.http) as Tool);
  if (config.shell) tools.push(createShellTool(config.shell) as Tool);
  if (config.db) tools.push(createDbTool(config.db) as Tool);
  if (config.search) tools.push(createSearchTool(config.search) as Tool);

  const names = (config.mcp ?? []).map((m) => m.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate)
    throw new Error(`Two MCP servers are named "${duplicate}"; names prefix tool names and must be unique.`);

  const settled = await Promise.allSettled((config.mcp ?? []).map((m) => connectMcpServer(m)));
  const connections = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const closeAll = async () => {
    const open = connections.splice(0);
    await Promise.allSettled(open.map((c: McpConnection) => c.close()));
  };
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await closeAll();
    throw failed.reason;
  }
  for (const c of connections) tools.push(...(c.tools as Tool[]));
  return { tools, close: closeAll };
}

export { createDbTool, type DbInput, type DbOutput, type DbToolConfig, tableName } from './db.js';
export * from './errors.js';
export {
  createHttpTool,
  type HttpInput,
  type HttpOutput,
  type HttpToolConfig,
  nonPublicReason,
} from './http.js';
export { connectMcpServer, type McpConnection, type McpServerConfig, type McpToolOutput } from './mcp.js';
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
  type SearchToolConfig,
} from './search.js';
export { createShellTool, type ShellInput, type ShellOutput, type ShellToolConfig } from './shell.js';
export type * from './types.js';
