/**
 * The `http` tool: GET/POST to public web hosts with SSRF protection.
 *
 * - Every hop (the first request and each redirect) checks the host allow-list, resolves the
 *   host (all addresses) and refuses private, loopback, link-local (cloud metadata), unspecified,
 *   multicast and reserved addresses, including their IPv4-mapped / NAT64 / 6to4 IPv6 forms.
 * - The connection goes to the addresses that were checked: a custom `lookup` pins them, so a
 *   second DNS answer (DNS rebinding) is never used.
 * - The body is read up to `maxBytes` (after decompression) and the connection is cut beyond it;
 *   the whole exchange, redirects included, has one time limit.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import * as z from 'zod';
import { JsonValue } from '../core/schemas.js';
import { defineTool, type ToolImplementation } from './define.js';
import {
  HostNotAllowedError,
  SsrfBlockedError,
  ToolAbortedError,
  ToolError,
  ToolExecutionError,
  ToolTimeoutError,
} from './errors.js';
import type { Tool } from './types.js';

const PositiveInt = z.number().int().positive();

/** The http tool's settings (`tools.http` in the Baton config). */
export const HttpToolConfig = z
  .object({
    /**
     * Hosts the tool may reach: exact names, `*.example.com` (any subdomain) or `.example.com`
     * (the domain and its subdomains). Empty or absent: any public host.
     */
    allowHosts: z.array(z.string().min(1)).optional(),
    /**
     * Let requests reach non-public addresses: `true` for all of them (local tests only), or a list
     * of addresses / CIDR ranges (`"127.0.0.1"`, `"10.1.0.0/16"`, `"::1"`). Default: none.
     */
    allowPrivate: z.union([z.boolean(), z.array(z.string().min(1))]).optional(),
    /** Body bytes kept (after decompression); the connection is cut beyond it. Default 1 MiB. */
    maxBytes: PositiveInt.optional(),
    /** Time limit of the whole exchange, redirects included. Default 10 s. */
    timeoutMs: PositiveInt.optional(),
    /** Redirects followed (each one re-checked). Default 5. */
    maxRedirects: z.number().int().min(0).max(20).optional(),
    /** Default `Baton-Agent/0.1 (+tool:http)`. */
    userAgent: z.string().min(1).max(200).optional(),
  })
  .strict();
export type HttpToolConfig = z.infer<typeof HttpToolConfig>;

/** What a config file cannot hold. */
export interface HttpToolOptions {
  /** Resolves a host name to all its addresses (default: dns.lookup with `all: true`). */
  resolve?: (hostname: string) => Promise<{ address: string; family: number }[]>;
}

export const HTTP_DEFAULTS = { maxBytes: 1024 * 1024, timeoutMs: 10_000, maxRedirects: 5 } as const;

/** Request headers the tool sets itself (or that would defeat its checks). */
const FORBIDDEN_REQUEST_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'te',
  'upgrade',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'trailer',
  'expect',
  'accept-encoding',
]);

/** Response headers returned to the agent: descriptive ones, never cookies or auth challenges. */
const SAFE_RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-language',
  'content-disposition',
  'last-modified',
  'etag',
  'cache-control',
  'expires',
  'date',
  'location',
  'retry-after',
];

/** Headers dropped when a redirect leaves the original origin. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie'];

export const HttpInput = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL' })
      .describe('Absolute http:// or https:// URL'),
    method: z.enum(['GET', 'POST']).default('GET').describe('HTTP method'),
    headers: z
      .record(z.string(), z.string())
      .optional()
      .refine((h) => !h || Object.keys(h).every((k) => !FORBIDDEN_REQUEST_HEADERS.has(k.toLowerCase())), {
        message: `these headers are set by the tool: ${[...FORBIDDEN_REQUEST_HEADERS].join(', ')}`,
      }),
    body: z.string().optional().describe('Raw request body (POST only)'),
    json: JsonValue.optional().describe('JSON request body (POST only); sets content-type application/json'),
  })
  .strict()
  .refine((v) => v.body === undefined || v.json === undefined, {
    message: 'give either body or json, not both',
    path: ['body'],
  })
  .refine((v) => v.method === 'POST' || (v.body === undefined && v.json === undefined), {
    message: 'a GET request has no body',
    path: ['method'],
  });
export type HttpInput = z.infer<typeof HttpInput>;

export interface HttpOutput {
  /** The URL of the final response (after redirects). */
  url: string;
  status: number;
  statusText: string;
  /** A safe subset of the response headers (no cookies). */
  headers: Record<string, string>;
  contentType: string | null;
  /** The body as text (textual content types) or base64 (anything else). */
  body: string;
  bodyEncoding: 'text' | 'base64';
  /** Body bytes kept. */
  bytes: number;
  /** The body was longer than maxBytes and was cut. */
  truncated: boolean;
  /** Every URL redirected to, in order. */
  redirects: string[];
}

/* ------------------------------------------------------------------ address policy */

const BLOCKED_RANGES: { reason: string; v: 'ipv4' | 'ipv6'; net: string; prefix: number }[] = [
  { reason: 'unspecified address', v: 'ipv4', net: '0.0.0.0', prefix: 8 },
  { reason: 'private address', v: 'ipv4', net: '10.0.0.0', prefix: 8 },
  { reason: 'shared (CGNAT) address', v: 'ipv4', net: '100.64.0.0', prefix: 10 },
  { reason: 'loopback address', v: 'ipv4', net: '127.0.0.0', prefix: 8 },
  { reason: 'link-local address (incl. cloud metadata)', v: 'ipv4', net: '169.254.0.0', prefix: 16 },
  { reason: 'private address', v: 'ipv4', net: '172.16.0.0', prefix: 12 },
  { reason: 'reserved address', v: 'ipv4', net: '192.0.0.0', prefix: 24 },
  { reason: 'documentation address', v: 'ipv4', net: '192.0.2.0', prefix: 24 },
  { reason: 'private address', v: 'ipv4', net: '192.168.0.0', prefix: 16 },
  { reason: 'deprecated 6to4 relay anycast address', v: 'ipv4', net: '192.88.99.0', prefix: 24 },
  { reason: 'benchmarking address', v: 'ipv4', net: '198.18.0.0', prefix: 15 },
  { reason: 'documentation address', v: 'ipv4', net: '198.51.100.0', prefix: 24 },
  { reason: 'documentation address', v: 'ipv4', net: '203.0.113.0', prefix: 24 },
  { reason: 'multicast address', v: 'ipv4', net: '224.0.0.0', prefix: 4 },
  { reason: 'reserved address', v: 'ipv4', net: '240.0.0.0', prefix: 4 },
  { reason: 'unspecified address', v: 'ipv6', net: '::', prefix: 128 },
  { reason: 'loopback address', v: 'ipv6', net: '::1', prefix: 128 },
  { reason: 'local-use NAT64 address', v: 'ipv6', net: '64:ff9b:1::', prefix: 48 },
  { reason: 'discard-only address', v: 'ipv6', net: '100::', prefix: 64 },
  { reason: 'dummy address', v: 'ipv6', net: '100:0:0:1::', prefix: 64 },
  // IETF protocol assignments: Teredo (2001::/32, which embeds an IPv4 address), benchmarking,
  // ORCHID and the rest; none is a web server an agent needs to reach.
  { reason: 'IETF protocol assignment (e.g. Teredo)', v: 'ipv6', net: '2001::', prefix: 23 },
  { reason: 'documentation address', v: 'ipv6', net: '2001:db8::', prefix: 32 },
  { reason: 'documentation address', v: 'ipv6', net: '3fff::', prefix: 20 },
  { reason: 'segment routing (SRv6) address', v: 'ipv6', net: '5f00::', prefix: 16 },
  { reason: 'private (unique local) address', v: 'ipv6', net: 'fc00::', prefix: 7 },
  { reason: 'link-local address', v: 'ipv6', net: 'fe80::', prefix: 10 },
  { reason: 'site-local address', v: 'ipv6', net: 'fec0::', prefix: 10 },
  { reason: 'multicast address', v: 'ipv6', net: 'ff00::', prefix: 8 },
];

const blockedLists = BLOCKED_RANGES.map((r) => {
  const list = new BlockList();
  list.addSubnet(r.net, r.prefix, r.v);
  return { reason: r.reason, v: r.v, list };
});

/** Parse an IPv6 address (no brackets, no zone) into 16 bytes; undefined if it is not one. */
function ipv6Bytes(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    tail.push(...last.split('.').map(Number));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest === undefined ? [] : rest ? rest.split(':') : [];
  const missing = 8 - headGroups.length - restGroups.length;
  const groups =
    rest === undefined ? headGroups : [...headGroups, ...Array(missing).fill('0'), ...restGroups];
  const bytes = groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes.length === 16 ? bytes : undefined;
}

/**
 * The IPv4 address embedded in an IPv4-mapped (::ffff:0:0/96), SIIT IPv4-translated
 * (::ffff:0:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address.
 * Other prefixes of the IANA special-purpose registry that embed IPv4 (local-use NAT64
 * 64:ff9b:1::/48, Teredo 2001::/32) are refused whole (BLOCKED_RANGES).
 */
function embeddedIpv4(ip: string): string | undefined {
  const b = ipv6Bytes(ip);
  if (!b) return undefined;
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4 = (at: number) => b.slice(at, at + 4).join('.');
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12); // ::ffff:a.b.c.d
  if (zeros(0, 8) && b[8] === 0xff && b[9] === 0xff && zeros(10, 12)) return v4(12); // ::ffff:0:a.b.c.d
  if (zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && b[15] === 1)) return v4(12); // ::a.b.c.d
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return v4(12); // 64:ff9b::/96
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2); // 2002::/16
  return undefined;
}

/** Why `ip` is not a public address, or undefined when it is public. */
export function nonPublicReason(ip: string): string | undefined {
  const bare = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const v4 = embeddedIpv4(bare);
    if (v4) {
      const inner = nonPublicReason(v4);
      if (inner) return `${inner} (IPv4 embedded in IPv6)`;
    }
  }
  const v = family === 4 ? 'ipv4' : 'ipv6';
  return blockedLists.find((b) => b.v === v && b.list.check(bare, v))?.reason;
}

function buildAllowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = '', prefixText] = entry.replace(/^\[|\]$/g, '').split('/');
    const family = isIP(addr);
    if (family === 0)
      throw new Error(`http tool: allowPrivate entry "${entry}" is not an IP address or CIDR range`);
    const v = family === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) list.addAddress(addr, v);
    else list.addSubnet(addr, Number(prefixText), v);
  }
  return list;
}

function normalizeHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

function hostAllowed(host: string, allowHosts: readonly string[]): boolean {
  const h = normalizeHost(host);
  return allowHosts.some((raw) => {
    const entry = normalizeHost(raw);
    if (entry.startsWith('*.')) return h.endsWith(entry.slice(1));
    if (entry.startsWith('.')) return h === entry.slice(1) || h.endsWith(entry);
    return h === entry;
  });
}

interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/* ------------------------------------------------------------------ the tool */

function httpImplementation(
  config: HttpToolConfig,
  options: HttpToolOptions,
): ToolImplementation<HttpInput, HttpOutput> {
  const maxBytes = config.maxBytes ?? HTTP_DEFAULTS.maxBytes;
  const timeoutMs = config.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
  const maxRedirects = config.maxRedirects ?? HTTP_DEFAULTS.maxRedirects;
  const allowHosts = config.allowHosts ?? [];
  const allowAllPrivate = config.allowPrivate === true;
  const privateAllowList = Array.isArray(config.allowPrivate)
    ? buildAllowList(config.allowPrivate)
    : undefined;
  const userAgent = config.userAgent ?? 'Baton-Agent/0.1 (+tool:http)';
  const resolve =
    options.resolve ?? ((hostname: string) => dnsLookup(hostname, { all: true, order: 'verbatim' }));

  function checkAddress(host: string, address: string, family: 4 | 6): void {
    if (allowAllPrivate) return;
    const reason = nonPublicReason(address);
    if (!reason) return;
    if (privateAllowList?.check(address, family === 4 ? 'ipv4' : 'ipv6')) return;
    throw new SsrfBlockedError(host, address, reason);
  }

  /** Allow-list, resolution and address checks for one hop; returns the addresses to pin. */
  async function vet(url: URL, signal: AbortSignal): Promise<ResolvedAddress[]> {
    const host = normalizeHost(url.hostname);
    if (allowHosts.length > 0 && !hostAllowed(host, allowHosts)) {
      throw new HostNotAllowedError(host, allowHosts);
    }
    const literal = isIP(host);
    let addresses: ResolvedAddress[];
    if (literal) {
      addresses = [{ address: host, family: literal as 4 | 6 }];
    } else {
      const resolved = await abortable(resolve(host), signal).catch((err: unknown) => {
        if (err instanceof ToolError || signal.aborted) throw err;
        throw new ToolExecutionError(`Could not resolve ${host}: ${(err as Error).message}`, {
          cause: err,
          tool: 'http',
          retryable: true,
        });
      });
      addresses = resolved.map((a) => ({ address: a.address, family: isIP(a.address) === 6 ? 6 : 4 }));
      if (addresses.length === 0) throw new ToolExecutionError(`${host} has no addresses`, { tool: 'http' });
    }
    for (const a of addresses) checkAddress(host, a.address, a.family);
    return addresses;
  }

  return {
    description:
      'Fetch a public web URL with GET or POST. Returns status, content type, a safe subset of headers and ' +
      `the body (text, or base64 for binary content; at most ${maxBytes} bytes, "truncated" tells when cut). ` +
      'Private, loopback and cloud-metadata addresses are refused.' +
      (allowHosts.length ? ` Allowed hosts: ${allowHosts.join(', ')}.` : ''),
    async handler(input, ctx) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
      const failure = (err: unknown): unknown => {
        if (err instanceof ToolError) return err;
        if (timeout.aborted) return new ToolTimeoutError('http', timeoutMs, { cause: err });
        if (ctx.signal?.aborted) return new ToolAbortedError('http', { cause: err });
        return new ToolExecutionError(`HTTP request failed: ${(err as Error).message}`, {
          cause: err,
          tool: 'http',
          retryable: true,
        });
      };

      let url = new URL(input.url);
      let method: 'GET' | 'POST' = input.method;
      const headers: Record<string, string> = { 'user-agent': userAgent, accept: '*/*' };
      for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v;
      headers['accept-encoding'] = 'gzip, deflate, br';
      let body: string | undefined = input.body;
      if (input.json !== undefined) {
        body = JSON.stringify(input.json);
        headers['content-type'] ??= 'application/json';
      }
      const redirects: string[] = [];

      try {
        for (;;) {
          const addresses = await vet(url, signal);
          const res = await send(url, method, headers, body, addresses, signal);
          const status = res.statusCode ?? 0;
          const location = res.headers.location;
          if ([301, 302, 303, 307, 308].includes(status) && location) {
            res.resume();
            if (redirects.length >= maxRedirects) {
              const message = `Too many redirects (more than ${maxRedirects}) from ${input.url}`;
              throw new ToolExecutionError(message, { tool: 'http' });
            }
            const next = new URL(location, url);
            if (next.protocol !== 'http:' && next.protocol !== 'https:') {
              const message = `Refused redirect to a non-HTTP URL: ${next.protocol}`;
              throw new ToolExecutionError(message, { tool: 'http' });
            }
            if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
              method = 'GET';
              body = undefined;
              delete headers['content-type'];
            }
            if (next.origin !== url.origin) for (const h of CREDENTIAL_HEADERS) delete headers[h];
            redirects.push(next.href);
            url = next;
            continue;
          }
          const read = await readBody(res, maxBytes);
          const contentType = res.headers['content-type'] ?? null;
          const text = isTextual(contentType);
          return {
            url: url.href,
            status,
            statusText: res.statusMessage ?? '',
            headers: safeHeaders(res),
            contentType,
            body: text ? decodeText(read.bytes, contentType) : Buffer.from(read.bytes).toString('base64'),
            bodyEncoding: text ? 'text' : 'base64',
            bytes: read.bytes.byteLength,
            truncated: read.truncated,
            redirects,
          };
        }
      } catch (err) {
        throw failure(err);
      }
    },
  };
}

/** The `http` tool: GET/POST to public hosts (see the top of this file for the SSRF checks). */
export const httpTool = defineTool({
  name: 'http',
  description: 'Fetch a public web URL with GET or POST (private and cloud-metadata addresses are refused)',
  config: HttpToolConfig,
  input: HttpInput,
  factory: httpImplementation,
});

/** An http tool from its settings; `resolve` replaces DNS (tests). */
export function createHttpTool(config: HttpToolConfig & HttpToolOptions = {}): Tool<HttpInput, HttpOutput> {
  const { resolve, ...settings } = config;
  return httpTool.create(settings, resolve ? { resolve } : {});
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A `lookup` that answers with the already-checked addresses and never asks DNS again. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return ((
    _host: string,
    options: { family?: number; all?: boolean },
    callback: (...args: unknown[]) => void,
  ) => {
    const wanted = options?.family === 4 || options?.family === 6 ? options.family : 0;
    const list = wanted ? addresses.filter((a) => a.family === wanted) : addresses;
    const first = list[0];
    if (!first) {
      callback(Object.assign(new Error('no address of the requested family'), { code: 'ENOTFOUND' }));
      return;
    }
    if (options?.all) callback(null, list);
    else callback(null, first.address, first.family);
  }) as LookupFunction;
}

function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  addresses: ResolvedAddress[],
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      {
        protocol: url.protocol,
        hostname: normalizeHost(url.hostname),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method,
        headers:
          body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: false,
        lookup: pinnedLookup(addresses),
        signal,
      },
      resolve,
    );
    req.on('error', reject);
    req.end(body);
  });
}

function decoderFor(res: IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') return res.pipe(zlib.createGunzip());
  if (encoding === 'deflate') return res.pipe(zlib.createInflate());
  if (encoding === 'br') return res.pipe(zlib.createBrotliDecompress());
  return res;
}

async function readBody(
  res: IncomingMessage,
  maxBytes: number,
): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const stream = decoderFor(res);
  if (stream !== res) res.on('error', (err) => stream.destroy(err));
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const room = maxBytes - size;
      if (chunk.byteLength > room) {
        if (room > 0) chunks.push(chunk.subarray(0, room));
        size = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(chunk);
      size += chunk.byteLength;
    }
  } finally {
    // Cuts the connection when the body was too long (or anything failed).
    if (!res.complete) res.destroy();
  }
  return { bytes: Buffer.concat(chunks, size), truncated };
}

function isTextual(contentType: string | null): boolean {
  if (!contentType) return true;
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type.startsWith('text/') ||
    type.endsWith('+json') ||
    type.endsWith('+xml') ||
    [
      'application/json',
      'application/xml',
      'application/javascript',
      'application/ecmascript',
      'application/x-www-form-urlencoded',
      'application/x-ndjson',
      'application/yaml',
      'application/x-yaml',
      'application/toml',
      'application/graphql',
      'image/svg+xml',
    ].includes(type)
  );
}

function decodeText(bytes: Uint8Array, contentType: string | null): string {
  const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    // Unknown charset label: fall back to UTF-8 rather than failing the call.
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function safeHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SAFE_RESPONSE_HEADERS) {
    const value = res.headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
