import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HostNotAllowedError,
  SsrfBlockedError,
  ToolExecutionError,
  ToolTimeoutError,
} from '../../../lambdas/tools/errors.js';
import { createHttpTool, nonPublicReason } from '../../../lambdas/tools/http.js';
import type { ToolContext } from '../../../lambdas/tools/types.js';

const ctx: ToolContext = { taskId: 't-1', stepId: 'fetch' };

interface Loopback {
  url: string;
  port: number;
  requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

const servers: Loopback[] = [];

async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
  host = '127.0.0.1',
): Promise<Loopback> {
  const requests: Loopback['requests'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const loopback: Loopback = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(loopback);
  return loopback;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('http tool', () => {
  it('fetches from a loopback server when loopback is explicitly allowed', async () => {
    // Prepare
    const server = await startServer((_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'set-cookie': 'secret=1',
        'x-internal': 'no',
      });
      res.end('héllo from loopback');
    });
    const tool = createHttpTool({ allowPrivate: ['127.0.0.1'] });
    // Act
    const out = await tool.handler(tool.inputSchema.parse({ url: `${server.url}/hello?x=1` }), ctx);
    // Assess
    expect(out).toMatchObject({
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      body: 'héllo from loopback',
      bodyEncoding: 'text',
      truncated: false,
      redirects: [],
    });
    expect(out.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(out.headers).not.toHaveProperty('set-cookie');
    expect(out.headers).not.toHaveProperty('x-internal');
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.url).toBe('/hello?x=1');
  });

  it('POSTs a JSON body and decodes a gzip response', async () => {
    // Prepare
    const server = await startServer((_req, res, body) => {
      res.writeHead(201, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ echoed: JSON.parse(body) })));
    });
    const tool = createHttpTool({ allowPrivate: true });
    // Act
    const out = await tool.handler(
      tool.inputSchema.parse({ url: `${server.url}/items`, method: 'POST', json: { a: 1 } }),
      ctx,
    );
    // Assess
    expect(out.status).toBe(201);
    expect(JSON.parse(out.body)).toEqual({ echoed: { a: 1 } });
    expect(server.requests[0]?.method).toBe('POST');
    expect(server.requests[0]?.headers['content-type']).toBe('application/json');
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['localhost', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['10.0.0.1', 'private'],
    ['[::1]', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['[fd00:ec2::254]', 'private'],
  ])('refuses %s by default without making a request', async (host, reason) => {
    // Prepare
    const server = await startServer((_req, res) => res.end('should not be reached'));
    const tool = createHttpTool();
    // Act
    const call = tool.handler(
      tool.inputSchema.parse({ url: `http://${host}:${server.port}/latest/meta-data/` }),
      ctx,
    );
    // Assess
    await expect(call).rejects.toBeInstanceOf(SsrfBlockedError);
    await expect(call).rejects.toThrow(reason);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a redirect from an allowed host to a private one', async () => {
    // Prepare: 127.0.0.1 is allowed, 127.0.0.2 (also loopback) is not
    const internal = await startServer((_req, res) => res.end('internal secrets'), '127.0.0.2');
    const front = await startServer((_req, res) => {
      res.writeHead(302, { location: `${internal.url}/admin` });
      res.end();
    });
    const tool = createHttpTool({ allowPrivate: ['127.0.0.1'] });
    // Act
    const call = tool.handler(tool.inputSchema.parse({ url: `${front.url}/go` }), ctx);
    // Assess
    await expect(call).rejects.toBeInstanceOf(SsrfBlockedError);
    expect(front.requests).toHaveLength(1);
    expect(internal.requests).toHaveLength(0);
  });

  it('refuses a redirect to the metadata address and follows allowed ones', async () => {
    // Prepare
    const server = await startServer((req, res) => {
      if (req.url === '/meta')
        res.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      else if (req.url === '/hop') res.writeHead(303, { location: '/final' }).end();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(`at ${req.url} via ${req.method}`);
    });
    const tool = createHttpTool({ allowPrivate: ['127.0.0.0/8'] });
    // Act
    const refused = await tool
      .handler(tool.inputSchema.parse({ url: `${server.url}/meta` }), ctx)
      .catch((e) => e);
    const followed = await tool.handler(
      tool.inputSchema.parse({ url: `${server.url}/hop`, method: 'POST', body: 'x' }),
      ctx,
    );
    // Assess
    expect(refused).toBeInstanceOf(SsrfBlockedError);
    expect(refused.message).toMatch(/169\.254\.169\.254.*link-local/);
    expect(followed).toMatchObject({
      status: 200,
      body: 'at /final via GET',
      redirects: [`${server.url}/final`],
    });
  });

  it('drops credentials on a cross-origin redirect and stops redirect loops', async () => {
    // Prepare
    const target = await startServer((_req, res) => res.end('landed'));
    const origin = await startServer((req, res) => {
      if (req.url === '/away') res.writeHead(307, { location: `${target.url}/landing` }).end();
      else res.writeHead(302, { location: '/loop' }).end();
    });
    const tool = createHttpTool({ allowPrivate: ['127.0.0.1'], maxRedirects: 3 });
    // Act
    const away = await tool.handler(
      tool.inputSchema.parse({
        url: `${origin.url}/away`,
        headers: { Authorization: 'Bearer s3cret', 'X-Trace': '1' },
      }),
      ctx,
    );
    const loop = await tool
      .handler(tool.inputSchema.parse({ url: `${origin.url}/loop` }), ctx)
      .catch((e) => e);
    // Assess
    expect(away.body).toBe('landed');
    expect(origin.requests[0]?.headers.authorization).toBe('Bearer s3cret');
    expect(target.requests[0]?.headers.authorization).toBeUndefined();
    expect(target.requests[0]?.headers['x-trace']).toBe('1');
    expect(loop).toBeInstanceOf(ToolExecutionError);
    expect(loop.message).toMatch(/Too many redirects \(more than 3\)/);
    expect(origin.requests).toHaveLength(1 + 4);
  });

  it('cuts the body at maxBytes', async () => {
    // Prepare
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(100_000));
    });
    const tool = createHttpTool({ allowPrivate: true, maxBytes: 1000 });
    // Act
    const out = await tool.handler(tool.inputSchema.parse({ url: server.url }), ctx);
    // Assess
    expect(out.truncated).toBe(true);
    expect(out.bytes).toBe(1000);
    expect(out.body).toBe('x'.repeat(1000));
  });

  it('enforces the host allow-list before resolving or connecting', async () => {
    // Prepare
    const server = await startServer((_req, res) => res.end('ok'));
    const tool = createHttpTool({ allowHosts: ['api.example.com', '*.example.org'], allowPrivate: true });
    const allowedByName = createHttpTool({ allowHosts: ['localhost'], allowPrivate: true });
    // Act
    const refused = await tool.handler(tool.inputSchema.parse({ url: server.url }), ctx).catch((e) => e);
    const allowed = await allowedByName.handler(
      allowedByName.inputSchema.parse({ url: `http://localhost:${server.port}/` }),
      ctx,
    );
    // Assess
    expect(refused).toBeInstanceOf(HostNotAllowedError);
    expect(allowed.body).toBe('ok');
    expect(server.requests).toHaveLength(1);
  });

  it('times out a server that never answers', async () => {
    // Prepare
    const server = await startServer(() => {
      // never responds
    });
    const tool = createHttpTool({ allowPrivate: true, timeoutMs: 300 });
    // Act
    const call = tool.handler(tool.inputSchema.parse({ url: server.url }), ctx);
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolTimeoutError);
  });

  it('rejects non-http URLs and tool-owned headers in its input schema', () => {
    // Prepare
    const tool = createHttpTool();
    // Act
    const fileUrl = tool.inputSchema.safeParse({ url: 'file:///etc/passwd' });
    const hostHeader = tool.inputSchema.safeParse({
      url: 'https://example.com',
      headers: { Host: 'internal' },
    });
    // Assess
    expect(fileUrl.success).toBe(false);
    expect(hostHeader.success).toBe(false);
  });

  it('classifies addresses, including IPv6 forms that embed IPv4', () => {
    // Assess
    expect(nonPublicReason('93.184.216.34')).toBeUndefined();
    expect(nonPublicReason('2606:4700::6810:84e5')).toBeUndefined();
    expect(nonPublicReason('172.31.255.255')).toMatch(/private/);
    expect(nonPublicReason('172.32.0.1')).toBeUndefined();
    expect(nonPublicReason('::ffff:7f00:1')).toMatch(/loopback/);
    expect(nonPublicReason('::ffff:10.1.2.3')).toMatch(/private/);
    expect(nonPublicReason('64:ff9b::a9fe:a9fe')).toMatch(/link-local/);
    expect(nonPublicReason('fe80::1')).toMatch(/link-local/);
    expect(nonPublicReason('::')).toMatch(/unspecified/);
  });

  it('refuses every IPv6 prefix of the IANA special-purpose registry that embeds or stands for IPv4', () => {
    // Assess: SIIT (IPv4-translated), local-use NAT64, Teredo, and 6to4 of a private address
    expect(nonPublicReason('::ffff:0:7f00:1')).toMatch(/loopback.*embedded/);
    expect(nonPublicReason('::ffff:0:169.254.169.254')).toMatch(/link-local.*embedded/);
    expect(nonPublicReason('64:ff9b:1::a9fe:a9fe')).toMatch(/local-use NAT64/);
    expect(nonPublicReason('64:ff9b:1:ffff::1')).toMatch(/local-use NAT64/);
    expect(nonPublicReason('2001:0:4136:e378:8000:63bf:3fff:fdd2')).toMatch(/Teredo/);
    expect(nonPublicReason('2002:a00:1::1')).toMatch(/private.*embedded/);
    expect(nonPublicReason('3fff::1')).toMatch(/documentation/);
    expect(nonPublicReason('5f00::1')).toMatch(/segment routing/);
    expect(nonPublicReason('192.88.99.1')).toMatch(/6to4 relay/);
    // ...and public NAT64 / 6to4 forms of public addresses stay allowed
    expect(nonPublicReason('64:ff9b::5db8:d822')).toBeUndefined();
    expect(nonPublicReason('2002:5db8:d822::1')).toBeUndefined();
  });
});

describe('http tool DNS handling', () => {
  it('connects to the address it checked, never resolving the name again', async () => {
    // Prepare: a name only our resolver knows; the system resolver cannot answer for it
    const server = await startServer((req, res) => res.end(`host header ${req.headers.host}`));
    const asked: string[] = [];
    const tool = createHttpTool({
      allowPrivate: ['127.0.0.1'],
      resolve: async (hostname) => {
        asked.push(hostname);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });
    // Act
    const out = await tool.handler(
      tool.inputSchema.parse({ url: `http://pinned.invalid:${server.port}/` }),
      ctx,
    );
    // Assess
    expect(out.body).toBe(`host header pinned.invalid:${server.port}`);
    expect(asked).toEqual(['pinned.invalid']);
  });

  it('refuses a name when any of its addresses is private', async () => {
    // Prepare
    const server = await startServer((_req, res) => res.end('no'));
    const tool = createHttpTool({
      resolve: async () => [
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
    });
    // Act
    const call = tool.handler(tool.inputSchema.parse({ url: `http://mixed.invalid:${server.port}/` }), ctx);
    // Assess
    await expect(call).rejects.toBeInstanceOf(SsrfBlockedError);
    expect(server.requests).toHaveLength(0);
  });
});
