/**
 * MCP client: connect to an MCP server (stdio or Streamable HTTP) and expose each of its tools
 * through the standard Tool interface, named `<server>.<tool>`. Arguments are validated against
 * the server's JSON schema (converted with zod's fromJSONSchema) before the call leaves the
 * process, and the server's own schema is what models see.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { defineToolSource, type ToolSet } from './define.js';
import { ToolError, ToolExecutionError, ToolTimeoutError } from './errors.js';
import type { JsonSchema, Tool } from './types.js';

const SERVER_NAME_RE = /^[A-Za-z0-9_-]{1,40}$/;
/** Prefix of the tool names (`<name>.<tool>`): letters, digits, "_" or "-". */
const McpName = z.string().regex(SERVER_NAME_RE, 'use 1-40 letters, digits, "_" or "-"');
/** Time limit of connecting and of each tool call (default 60 s). */
const McpTimeout = z.number().int().positive().optional();

/** One MCP server (an entry of `tools.mcp` in the Baton config). */
export const McpServerConfig = z.discriminatedUnion('transport', [
  z
    .object({
      name: McpName,
      transport: z.literal('stdio'),
      command: z.string().min(1),
      args: z.array(z.string()).optional(),
      /** Added to a minimal inherited environment (PATH, HOME, ...); the parent's secrets are not passed. */
      env: z.record(z.string(), z.string()).optional(),
      /** Working directory; relative to the config file. */
      cwd: z.string().min(1).optional(),
      timeoutMs: McpTimeout,
    })
    .strict(),
  z
    .object({
      name: McpName,
      transport: z.literal('http'),
      url: z.url({ protocol: /^https?$/ }),
      headers: z.record(z.string(), z.string()).optional(),
      timeoutMs: McpTimeout,
    })
    .strict(),
]);
export type McpServerConfig = z.infer<typeof McpServerConfig>;

export interface McpConnection {
  name: string;
  tools: Tool<Record<string, unknown>, McpToolOutput>[];
  close(): Promise<void>;
}

export interface McpToolOutput {
  /** The text parts of the result, joined by newlines. */
  text: string;
  /** The tool's structured result, when it declares an output schema. */
  structuredContent?: Record<string, unknown>;
  /** All content parts as the server sent them (text, image, resource, ...). */
  content: unknown[];
}

export const MCP_DEFAULT_TIMEOUT_MS = 60_000;
const STDERR_TAIL_BYTES = 4096;

/** A zod schema for an MCP tool's JSON input schema; permissive when it cannot be converted. */
export function schemaFromJson(jsonSchema: JsonSchema): z.ZodType<Record<string, unknown>> {
  try {
    const converted = z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0]);
    return converted as z.ZodType<Record<string, unknown>>;
  } catch {
    // Schemas zod cannot express (rare keywords, remote $refs): the server validates on its side.
    return z.record(z.string(), z.unknown());
  }
}

function textOf(content: unknown[]): string {
  return content
    .filter((c): c is { type: 'text'; text: string } => (c as { type?: string }).type === 'text')
    .map((c) => c.text)
    .join('\n');
}

function toToolError(err: unknown, toolName: string, timeoutMs: number): unknown {
  if (err instanceof ToolError) return err;
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout)
      return new ToolTimeoutError(toolName, timeoutMs, { cause: err });
    const fixable = err.code === ErrorCode.InvalidParams || err.code === ErrorCode.MethodNotFound;
    return new ToolExecutionError(`MCP tool ${toolName} failed: ${err.message}`, {
      cause: err,
      tool: toolName,
      retryable: !fixable,
    });
  }
  return new ToolExecutionError(`MCP tool ${toolName} failed: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
    tool: toolName,
    retryable: true,
  });
}

export async function connectMcpServer(config: McpServerConfig): Promise<McpConnection> {
  if (!SERVER_NAME_RE.test(config.name)) {
    throw new Error(
      `MCP server name "${config.name}" must be 1-40 letters, digits, "_" or "-" (it prefixes tool names).`,
    );
  }
  const timeoutMs = config.timeoutMs ?? MCP_DEFAULT_TIMEOUT_MS;
  let stderrTail = '';
  const transport =
    config.transport === 'stdio'
      ? new StdioClientTransport({
          command: config.command,
          args: config.args,
          env: { ...getDefaultEnvironment(), ...config.env },
          cwd: config.cwd,
          stderr: 'pipe',
        })
      : new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers } });
  if (transport instanceof StdioClientTransport) {
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
  }

  const client = new Client({ name: 'baton-tools', version: '0.1.0' });
  try {
    await client.connect(transport, { timeout: timeoutMs });
  } catch (err) {
    await client.close().catch(() => undefined);
    const where =
      config.transport === 'stdio' ? `${config.command} ${(config.args ?? []).join(' ')}` : config.url;
    throw new ToolExecutionError(
      `Could not connect to MCP server "${config.name}" (${where}): ${(err as Error).message}` +
        (stderrTail ? `\nserver stderr: ${stderrTail.trim()}` : ''),
      { cause: err, retryable: true },
    );
  }

  try {
    const listed: Awaited<ReturnType<Client['listTools']>>['tools'] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
      listed.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);

    const tools = listed.map((def): Tool<Record<string, unknown>, McpToolOutput> => {
      const name = `${config.name}.${def.name}`;
      const { $schema: _ignored, ...jsonSchema } = def.inputSchema as JsonSchema;
      return {
        name,
        description: def.description ?? def.title ?? `${def.name} (MCP server ${config.name})`,
        inputSchema: schemaFromJson(jsonSchema),
        jsonSchema,
        async handler(input, ctx) {
          let result: Awaited<ReturnType<Client['callTool']>>;
          try {
            result = await client.callTool({ name: def.name, arguments: input }, undefined, {
              signal: ctx.signal,
              timeout: timeoutMs,
            });
          } catch (err) {
            throw toToolError(err, name, timeoutMs);
          }
          const content = Array.isArray(result.content) ? (result.content as unknown[]) : [];
          const text = textOf(content);
          if (result.isError) {
            throw new ToolExecutionError(`MCP tool ${name} reported an error: ${text || 'no details'}`, {
              tool: name,
            });
          }
          const structured = result.structuredContent as Record<string, unknown> | undefined;
          return { text, content, ...(structured ? { structuredContent: structured } : {}) };
        },
      };
    });

    return {
      name: config.name,
      tools,
      close: () => client.close(),
    };
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
}

/** Connects every server (all or none: on a failure the open connections are closed). */
async function connectMcpServers(servers: McpServerConfig[]): Promise<ToolSet> {
  const names = servers.map((m) => m.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate)
    throw new Error(`Two MCP servers are named "${duplicate}"; names prefix tool names and must be unique.`);

  const settled = await Promise.allSettled(servers.map((m) => connectMcpServer(m)));
  const connections = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const close = async () => {
    const open = connections.splice(0);
    await Promise.allSettled(open.map((c: McpConnection) => c.close()));
  };
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  return { tools: connections.flatMap((c) => c.tools as Tool[]), close };
}

/** The `mcp` section: MCP servers, each tool named `<server>.<tool>` with the server's own schema. */
export const mcpTools = defineToolSource({
  name: 'mcp',
  description: 'Tools of MCP servers (stdio or Streamable HTTP), named <server>.<tool>',
  config: z.array(McpServerConfig).max(20),
  toolNames: (servers) => servers.map((m) => `${m.name}.*`),
  paths: (servers, absolute) =>
    servers.map((m) => (m.transport === 'stdio' && m.cwd ? { ...m, cwd: absolute(m.cwd) } : m)),
  factory: connectMcpServers,
});
