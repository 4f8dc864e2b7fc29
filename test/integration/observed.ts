/**
 * An integration harness that also observes everything that leaves the runtime: every runtime
 * log line, everything written to stdout/stderr or the console while it runs (the Lambdas'
 * Powertools logs), and every HTTP response body the test receives. Approval tests search all
 * of it for task tokens, which must never leave the backend.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../lambdas/adapters/clients.js';
import { TaskView } from '../../lambdas/core/schemas.js';
import { type LocalRuntime, startLocalRuntime } from '../../lib/local/runtime.js';
import { FIXTURE_CONFIG } from './harness.js';

export interface Received<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

export interface ObservedHarness {
  rt: LocalRuntime;
  dataDir: string;
  /** Runtime log lines (JSON) and everything written to stdout/stderr/console. */
  logs: string[];
  /** Every response body received through `api` or `http`. */
  responses: string[];
  /** The authenticated JSON API. */
  api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<Received<T>>;
  /** Any request, without the API key (links are their own credential). `url` may be a path. */
  http(
    method: string,
    url: string,
    init?: { headers?: Record<string, string>; body?: string },
  ): Promise<Received>;
  /** GET /tasks/{id}, checked against the TaskView contract. */
  task(taskId: string): Promise<TaskView>;
  waitFor(
    taskId: string,
    until: (task: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** The task tokens the store holds for a task right now (dependency gates and pending approvals). */
  tokens(taskId: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startObservedHarness(): Promise<ObservedHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-obs-'));
  const logs: string[] = [];
  const responses: string[] = [];
  const restore = tapOutput((text) => logs.push(text));
  const rt = await startLocalRuntime({
    dataDir,
    port: 0,
    apiKey: 'test-key',
    configPath: FIXTURE_CONFIG,
    log: (line) => logs.push(JSON.stringify(line)),
  });

  const receive = async <T>(res: Response): Promise<Received<T>> => {
    const text = await res.text();
    responses.push(text);
    const type = res.headers.get('content-type') ?? '';
    const body = (/json/.test(type) && text ? JSON.parse(text) : {}) as T;
    return { status: res.status, headers: res.headers, text, body };
  };
  const absolute = (url: string) => (url.startsWith('http') ? url : `${rt.url}${url}`);

  const harness: ObservedHarness = {
    rt,
    dataDir,
    logs,
    responses,
    async api(method, path, body) {
      const res = await fetch(absolute(path), {
        method,
        headers: {
          authorization: 'Bearer test-key',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return receive(res);
    },
    async http(method, url, init = {}) {
      const res = await fetch(absolute(url), {
        method,
        headers: init.headers,
        body: init.body,
        redirect: 'manual',
      });
      return receive(res);
    },
    async task(taskId) {
      const res = await harness.api('GET', `/tasks/${taskId}`);
      if (res.status !== 200) throw new Error(`GET /tasks/${taskId} answered ${res.status}`);
      return TaskView.parse(res.body);
    },
    async waitFor(taskId, until, what, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await harness.api('GET', `/tasks/${taskId}`);
        if (until(res.body)) return res.body;
        if (Date.now() > deadline)
          throw new Error(`task ${taskId} never reached: ${what} (status ${String(res.body.status)})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async tokens(taskId) {
      const res = await documentClient().send(
        new QueryCommand({
          TableName: process.env.TABLE_NAME,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': `TASK#${taskId}` },
          ConsistentRead: true,
        }),
      );
      return (res.Items ?? [])
        .flatMap((i) => [i.taskToken, i.token])
        .filter((t): t is string => typeof t === 'string' && t.length > 0);
    },
    async close() {
      try {
        await rt.close();
      } finally {
        restore();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  return harness;
}

/** Copies everything written to stdout, stderr and the console to `sink` (still printing it). */
function tapOutput(sink: (text: string) => void): () => void {
  const streams = [process.stdout, process.stderr] as const;
  const writes = streams.map((s) => s.write);
  streams.forEach((stream, i) => {
    const original = writes[i] as typeof stream.write;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
  });
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const originals = methods.map((m) => console[m]);
  methods.forEach((m, i) => {
    console[m] = (...args: unknown[]) => {
      sink(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      (originals[i] as (...a: unknown[]) => void)(...args);
    };
  });
  return () => {
    streams.forEach((stream, i) => {
      stream.write = writes[i] as typeof stream.write;
    });
    methods.forEach((m, i) => {
      console[m] = originals[i] as (typeof console)[typeof m];
    });
  };
}
