/**
 * Baton's own small MCP server: tools `word_count`, `add` and `utc_now`.
 *
 * - stdio: `node --import tsx lambdas/tools/mcp-example-server.ts`
 * - Streamable HTTP (stateless, loopback): `serveExampleOverHttp({ port: 0 })` → `{ url, close }`
 *
 * It exists to exercise the MCP client end to end and as a template for project MCP servers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';

export const EXAMPLE_SERVER_NAME = 'baton-example';

/** Words (whitespace-separated runs), characters and lines of a text. */
export function countWords(text: string): { words: number; characters: number; lines: number } {
  const words = text.trim() === '' ? 0 : text.trim().split(/\s+/).length;
  const lines = text === '' ? 0 : text.split(/\r\n|\r|\n/).length;
  return { words, characters: [...text].length, lines };
}

export function createExampleServer(options: { now?: () => Date } = {}): McpServer {
  const now = options.now ?? (() => new Date());
  const server = new McpServer({ name: EXAMPLE_SERVER_NAME, version: '0.1.0' });

  server.registerTool(
    'word_count',
    {
      description: 'Count the words, characters and lines of a text.',
      inputSchema: { text: z.string().describe('The text to count') },
      outputSchema: { words: z.number().int(), characters: z.number().int(), lines: z.number().int() },
    },
    async ({ text }) => {
      const counts = countWords(text);
      return { content: [{ type: 'text', text: JSON.stringify(counts) }], structuredContent: counts };
    },
  );

  server.registerTool(
    'add',
    {
      description: 'Add two numbers.',
      inputSchema: { a: z.number().describe('First addend'), b: z.number().describe('Second addend') },
      outputSchema: { sum: z.number() },
    },
    async ({ a, b }) => ({
      content: [{ type: 'text', text: String(a + b) }],
      structuredContent: { sum: a + b },
    }),
  );

  server.registerTool(
    'utc_now',
    { description: 'The current time in UTC, ISO 8601.', inputSchema: {} },
    async () => ({ content: [{ type: 'text', text: now().toISOString() }] }),
  );

  return server;
}

export interface ExampleHttpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:43123/mcp */
  url: string;
  close(): Promise<void>;
}

/**
 * Serve the example server over Streamable HTTP (stateless: one server + transport per request)
 * on a loopback address. Port 0 picks a free port.
 */
export async function serveExampleOverHttp(
  options: { port?: number; host?: string } = {},
): Promise<ExampleHttpServer> {
  const host = options.host ?? '127.0.0.1';
  let allowedHosts: string[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'POST') {
      // Stateless server: no standalone SSE stream (GET) and no sessions to delete (DELETE).
      res.writeHead(405, { allow: 'POST', 'content-type': 'application/json' }).end(
        JSON.stringify({
          jsonrpc: '2.0',
          error: { code: -32000, message: 'Method not allowed.' },
          id: null,
        }),
      );
      return;
    }
    const server = createExampleServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      enableDnsRebindingProtection: true,
      allowedHosts,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: String(err) }, id: null }));
      } else res.destroy(err as Error);
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  allowedHosts = [`${urlHost}:${port}`, `localhost:${port}`];
  return {
    url: `http://${urlHost}:${port}/mcp`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.closeAllConnections();
        http.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** Serve over stdio (the MCP client spawns this file). */
export async function serveExampleOverStdio(): Promise<void> {
  const server = createExampleServer();
  await server.connect(new StdioServerTransport());
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(entry).href) {
  serveExampleOverStdio().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
