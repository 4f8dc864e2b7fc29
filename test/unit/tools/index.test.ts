import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  buildTools,
  createToolRuntime,
  ToolDisabledError,
  ToolExecutionError,
} from '../../../lambdas/tools/index.js';

const corpusDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/tools/corpus');
const ctx = { taskId: 't-1', stepId: 's-1' };

describe('buildTools', () => {
  it('builds the configured built-in tools, each with a JSON schema for models', async () => {
    // Prepare
    const toolset = await buildTools({ http: {}, shell: { enabled: false }, db: {}, search: { corpusDir } });
    const runtime = createToolRuntime({ allow: ['*'], tools: toolset.tools });
    // Act
    const defs = runtime.list();
    await toolset.close();
    // Assess
    expect(defs.map((d) => d.name)).toEqual(['http', 'shell', 'db', 'search']);
    for (const def of defs) {
      expect(def.description.length).toBeGreaterThan(20);
      expect(def.inputSchema).toMatchObject({ type: 'object' });
      expect(def.inputSchema).not.toHaveProperty('$schema');
    }
    const http = defs.find((d) => d.name === 'http');
    expect(http?.inputSchema).toMatchObject({ properties: { url: { type: 'string' } }, required: ['url'] });
  });

  it('leaves out tools that are not configured, and keeps shell disabled unless enabled', async () => {
    // Prepare
    const toolset = await buildTools({ shell: { enabled: false } });
    const runtime = createToolRuntime({ allow: ['shell', 'http'], tools: toolset.tools });
    // Act
    const names = runtime.list().map((d) => d.name);
    const call = runtime.call('shell', { command: 'echo hi' }, ctx);
    // Assess
    expect(names).toEqual(['shell']);
    await expect(call).rejects.toBeInstanceOf(ToolDisabledError);
  });

  it('fails with the MCP server that could not be reached', async () => {
    // Act
    const build = buildTools({
      db: {},
      mcp: [{ name: 'missing', transport: 'stdio', command: '/nonexistent/mcp-server', timeoutMs: 5000 }],
    });
    // Assess
    await expect(build).rejects.toBeInstanceOf(ToolExecutionError);
    await expect(build).rejects.toThrow(/MCP server "missing"/);
  });

  it('refuses two MCP servers with the same name', async () => {
    // Act
    const build = buildTools({
      mcp: [
        { name: 'dup', transport: 'http', url: 'http://127.0.0.1:9/mcp' },
        { name: 'dup', transport: 'http', url: 'http://127.0.0.1:9/mcp' },
      ],
    });
    // Assess
    await expect(build).rejects.toThrow(/Two MCP servers are named "dup"/);
  });
});
