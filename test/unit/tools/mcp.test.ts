import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolExecutionError, ToolInputError } from '../../../lambdas/tools/errors.js';
import { buildTools } from '../../../lambdas/tools/index.js';
import { connectMcpServer, type McpConnection } from '../../../lambdas/tools/mcp.js';
import { type ExampleHttpServer, serveExampleOverHttp } from '../../../lambdas/tools/mcp-example-server.js';
import { createToolRuntime } from '../../../lambdas/tools/runtime.js';
import type { ToolCallRecord, ToolContext } from '../../../lambdas/tools/types.js';

const ctx: ToolContext = { taskId: 't-1', stepId: 'mcp' };

/** Node 22 (vitest runs under it) with tsx, as the brief's `node --import tsx ...` command. */
const stdioServer = {
  name: 'example',
  transport: 'stdio' as const,
  command: process.execPath,
  args: ['--import', 'tsx', 'lambdas/tools/mcp-example-server.ts'],
  cwd: process.cwd(),
};

describe('MCP over stdio', () => {
  let connection: McpConnection;
  beforeAll(async () => {
    connection = await connectMcpServer(stdioServer);
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('lists the server tools under <server>.<tool> with their JSON schemas', () => {
    // Prepare
    const runtime = createToolRuntime({ allow: ['example.*'], tools: connection.tools });
    // Act
    const defs = runtime.list();
    // Assess
    expect(defs.map((d) => d.name).sort()).toEqual(['example.add', 'example.utc_now', 'example.word_count']);
    const wordCount = defs.find((d) => d.name === 'example.word_count');
    expect(wordCount?.description).toBe('Count the words, characters and lines of a text.');
    expect(wordCount?.inputSchema).toMatchObject({
      type: 'object',
      properties: { text: { type: 'string', description: 'The text to count' } },
      required: ['text'],
    });
  });

  it('calls a tool through the ToolRuntime and audits the call', async () => {
    // Prepare
    const records: ToolCallRecord[] = [];
    const runtime = createToolRuntime({
      allow: ['example.word_count', 'example.add'],
      tools: connection.tools,
      onCall: (r) => records.push(r),
    });
    // Act
    const counted = await runtime.call('example.word_count', { text: 'one two\nthree' }, ctx);
    const sum = await runtime.call('example.add', { a: 2, b: 40 }, ctx);
    // Assess
    expect(counted).toMatchObject({ structuredContent: { words: 3, characters: 13, lines: 2 } });
    expect(sum).toMatchObject({ text: '42', structuredContent: { sum: 42 } });
    expect(records.map((r) => [r.tool, r.outcome])).toEqual([
      ['example.word_count', 'ok'],
      ['example.add', 'ok'],
    ]);
  });

  it("validates arguments against the server's schema before calling", async () => {
    // Prepare
    const runtime = createToolRuntime({ allow: ['example.*'], tools: connection.tools });
    // Act
    const call = runtime.call('example.add', { a: 1, b: 'two' }, ctx);
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolInputError);
    await expect(call).rejects.toThrow(/example\.add.*b:/);
  });

  it('starts the server with a minimal environment plus the configured variables', async () => {
    // Prepare: a wrapper records the environment the server process gets, then execs the server
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-mcp-env-'));
    const envFile = path.join(dir, 'env.txt');
    const saved = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = 'parent-secret-do-not-leak';
    try {
      // Act
      const probe = await connectMcpServer({
        name: 'probe',
        transport: 'stdio',
        command: '/bin/sh',
        args: [
          '-c',
          `env > "${envFile}"; exec "${process.execPath}" --import tsx lambdas/tools/mcp-example-server.ts`,
        ],
        env: { BATON_EXTRA: 'configured' },
        cwd: process.cwd(),
      });
      const names = probe.tools.map((t) => t.name);
      await probe.close();
      const env = await readFile(envFile, 'utf8');
      // Assess
      expect(names).toContain('probe.utc_now');
      expect(env).toContain('BATON_EXTRA=configured');
      expect(env).not.toContain('parent-secret-do-not-leak');
    } finally {
      if (saved === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('MCP over streamable HTTP on loopback', () => {
  let server: ExampleHttpServer;
  beforeAll(async () => {
    server = await serveExampleOverHttp({ port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('connects, lists and calls a tool through the ToolRuntime', async () => {
    // Prepare
    const connection = await connectMcpServer({ name: 'remote', transport: 'http', url: server.url });
    const runtime = createToolRuntime({ allow: ['remote.*'], tools: connection.tools });
    try {
      // Act
      const names = runtime.list().map((d) => d.name);
      const out = await runtime.call('remote.word_count', { text: 'streamable http works' }, ctx);
      const now = (await runtime.call('remote.utc_now', {}, ctx)) as { text: string };
      // Assess
      expect(names.sort()).toEqual(['remote.add', 'remote.utc_now', 'remote.word_count']);
      expect(out).toMatchObject({ structuredContent: { words: 3 } });
      expect(new Date(now.text).toISOString()).toBe(now.text);
    } finally {
      await connection.close();
    }
  });

  it('builds MCP tools next to built-ins from one config', async () => {
    // Prepare / Act
    const toolset = await buildTools({
      db: {},
      mcp: [{ name: 'remote', transport: 'http', url: server.url }],
    });
    try {
      // Assess
      expect(toolset.tools.map((t) => t.name).sort()).toEqual([
        'db',
        'remote.add',
        'remote.utc_now',
        'remote.word_count',
      ]);
    } finally {
      await toolset.close();
    }
  });

  it('fails to connect with an error naming the server', async () => {
    // Prepare: a port nobody listens on (the server is closed right away)
    const closed = await serveExampleOverHttp({ port: 0 });
    await closed.close();
    // Act
    const call = connectMcpServer({ name: 'gone', transport: 'http', url: closed.url, timeoutMs: 5000 });
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolExecutionError);
    await expect(call).rejects.toThrow(/MCP server "gone"/);
  });
});
