/**
 * The console in local mode: the HTTP server that stands in for API Gateway also stands in for
 * CloudFront, serving `GET /` and `/console/*` from the console's asset folder in the cloud
 * assembly (what the stack deploys to S3), with no API key (the page asks for it). Its
 * `console/config.json` is written here: the API on the same origin, signed in with the API key.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { CONSOLE_METADATA } from '../aws/console.js';
import { CONSOLE_FILES } from '../console/build.js';
import { ASSET_PATH_METADATA, assetDirOf, type BundledAssembly } from './assembly.js';
import { TemplateError } from './template.js';

/** The console's CSP locally: everything from this origin, nothing inline, no framing. */
export const LOCAL_CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
};

/** The folder of the console's assets in the assembly (the resource marked `baton:console`). */
export function consoleAssetsDir(assembly: BundledAssembly): string {
  const marked = Object.entries(assembly.template.Resources).filter(
    ([, r]) =>
      r.Metadata?.[CONSOLE_METADATA] === true && typeof r.Metadata?.[ASSET_PATH_METADATA] === 'string',
  );
  if (marked.length !== 1)
    throw new TemplateError(`Expected one console asset resource in the template, found ${marked.length}`);
  return assetDirOf(assembly, (marked[0] as [string, unknown])[0]);
}

export interface LocalConsole {
  /** Answers the request when it is the console's (true), else leaves it to the API (false). */
  serve(req: IncomingMessage, res: ServerResponse): boolean;
}

/** A refused console request: an RFC 9457 problem, as every 4xx of Baton's API is. */
function problem(res: ServerResponse, status: number, title: string, detail: string, headers = {}): void {
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

export function localConsole(dir: string): LocalConsole {
  // Read once: the assembly is immutable (content-addressed).
  const files = new Map<string, Buffer>();
  for (const f of CONSOLE_FILES) files.set(`/${f}`, readFileSync(join(dir, f)));
  files.set('/', files.get('/index.html') as Buffer);
  files.set('/console/config.json', Buffer.from(JSON.stringify({ apiBase: '', auth: { kind: 'key' } })));
  return {
    serve(req, res) {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path !== '/' && path !== '/index.html' && !path.startsWith('/console/')) return false;
      const body = files.get(path);
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        problem(res, 405, 'Method Not Allowed', `The console answers GET and HEAD only, not ${req.method}.`, {
          allow: 'GET, HEAD',
        });
        return true;
      }
      if (!body) {
        problem(res, 404, 'Not Found', `The console has no file ${path}.`);
        return true;
      }
      const ext = path === '/' ? '.html' : path.slice(path.lastIndexOf('.'));
      res.writeHead(200, {
        'content-type': TYPES[ext] ?? 'application/octet-stream',
        'content-length': String(body.byteLength),
        'cache-control': path.endsWith('.json') || ext === '.html' ? 'no-store' : 'no-cache',
        'content-security-policy': LOCAL_CONSOLE_CSP,
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}
