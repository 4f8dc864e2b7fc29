/** Boots the local runtime for an integration test file and talks to it over HTTP. */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TaskView, TERMINAL_TASK_STATUSES } from '../../lambdas/core/schemas.js';
import { type LocalRuntime, startLocalRuntime } from '../../lib/local/runtime.js';
import { trailProblems } from './trail.js';

export const FIXTURE_CONFIG = resolve(import.meta.dirname, '../fixtures/baton.config.json');

/** An audit-trail event as the API returns it. */
export type TrailEvent = {
  id: string;
  seq: number;
  at: string;
  type: string;
  stepId?: string;
  data: Record<string, unknown>;
};

export interface Harness {
  rt: LocalRuntime;
  dataDir: string;
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T; headers: Headers; raw: Buffer }>;
  /** POST /tasks, expecting 202; returns the task id. */
  submit(body: Record<string, unknown>): Promise<string>;
  /** The task's whole audit trail, in order. */
  events(taskId: string): Promise<TrailEvent[]>;
  /** GET /tasks/{id}, checked against the TaskView contract. */
  task(taskId: string): Promise<TaskView>;
  /** Polls the task until its status is one of `statuses`; the view is checked against TaskView. */
  waitFor(taskId: string, statuses: string[], timeoutMs?: number): Promise<TaskView>;
  /**
   * Every task of the runtime with the problems of its audit trail (trail.ts): what `close()`
   * checks, so every suite's tasks, whatever fault they met, end with a sound trail.
   */
  audit(): Promise<{ taskId: string; status: string; problems: string[] }[]>;
  /**
   * The functions' own log lines so far (Powertools JSON and EMF documents), parsed, with the
   * function's logical id as `fn`; also appended to the log file (BATON_TEST_LOG) when there is one.
   */
  functionLines(): FunctionLine[];
  close(): Promise<void>;
}

/** One line a function wrote to stdout: its JSON, and `fn`, the function's logical id. */
export type FunctionLine = Record<string, unknown> & { fn: string };

export interface HarnessOptions {
  /** Reuse a data directory (it is then kept on close). */
  dataDir?: string;
  keep?: boolean;
  /** A Baton config of the test's choosing (default: test/fixtures/baton.config.json). */
  configPath?: string;
  /**
   * Extra environment of the runtime's process, restored on close: e.g. BATON_MODEL_CONFIG (read at
   * synth, so in the template) or an AWS_ENDPOINT_URL_<SERVICE> the functions are given.
   */
  env?: Record<string, string>;
  /**
   * Append the runtime's log lines (JSON) and the functions' lines (`component: 'function'`) to
   * this file; default BATON_TEST_LOG, else nowhere.
   */
  logFile?: string;
  /** Check every task's audit trail on close (default true). */
  audit?: boolean;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'baton-it-'));
  const configPath = opts.configPath ?? FIXTURE_CONFIG;
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries({ BATON_CONFIG: configPath, ...opts.env })) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  const logFile = opts.logFile ?? process.env.BATON_TEST_LOG;
  const log = logFile
    ? (line: Record<string, unknown>) => appendFileSync(logFile, `${JSON.stringify(line)}\n`)
    : () => {};
  const lines: FunctionLine[] = [];
  const functionLog = (text: string, fn: string) => {
    let doc: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      doc =
        parsed && typeof parsed === 'object' && !Array.isArray(parsed)
          ? (parsed as Record<string, unknown>)
          : { text };
    } catch {
      doc = { text };
    }
    lines.push({ ...doc, fn });
    log({ component: 'function', ...doc, fn });
  };
  const rt = await startLocalRuntime({ dataDir, port: 0, apiKey: 'test-key', configPath, log, functionLog });
  const api: Harness['api'] = async (method, path, body, headers = {}) => {
    const res = await fetch(`${rt.url}${path}`, {
      method,
      headers: {
        authorization: 'Bearer test-key',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const raw = Buffer.from(await res.arrayBuffer());
    const type = res.headers.get('content-type') ?? '';
    const parsed = /json/.test(type) && raw.length ? JSON.parse(raw.toString('utf8')) : raw;
    return { status: res.status, body: parsed, headers: res.headers, raw };
  };
  const task: Harness['task'] = async (taskId) => {
    const res = await api('GET', `/tasks/${taskId}`);
    if (res.status !== 200)
      throw new Error(`GET /tasks/${taskId} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return TaskView.parse(res.body);
  };
  const waitFor: Harness['waitFor'] = async (taskId, statuses, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await task(taskId);
      if (statuses.includes(view.status)) return view;
      if (Date.now() > deadline)
        throw new Error(`task ${taskId} is ${view.status}, expected ${statuses.join('|')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const submit: Harness['submit'] = async (body) => {
    const res = await api('POST', '/tasks', body);
    if (res.status !== 202)
      throw new Error(`POST /tasks answered ${res.status}: ${JSON.stringify(res.body)}`);
    return String(res.body.taskId);
  };
  const events: Harness['events'] = async (taskId) => {
    const all: TrailEvent[] = [];
    let after: number | undefined;
    do {
      const page = await api<{ events: TrailEvent[]; next?: number }>(
        'GET',
        `/tasks/${taskId}/events?limit=1000${after !== undefined ? `&after=${after}` : ''}`,
      );
      all.push(...page.body.events);
      after = page.body.next;
    } while (after !== undefined);
    return all;
  };
  const audit: Harness['audit'] = async () => {
    const out: { taskId: string; status: string; problems: string[] }[] = [];
    let cursor: string | undefined;
    do {
      const page = await api<{ tasks: { taskId: string; status: string }[]; next?: string }>(
        'GET',
        `/tasks?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      for (const t of page.body.tasks) {
        const ended = (TERMINAL_TASK_STATUSES as readonly string[]).includes(t.status);
        out.push({ ...t, problems: trailProblems(await events(t.taskId), { ended }) });
      }
      cursor = page.body.next;
    } while (cursor);
    return out;
  };
  return {
    rt,
    dataDir,
    api,
    submit,
    events,
    task,
    waitFor,
    audit,
    functionLines: () => [...lines],
    async close() {
      let unsound: string[] = [];
      if (opts.audit !== false) {
        const bad = (await audit()).filter((t) => t.problems.length > 0);
        unsound = bad.map((t) => `${t.taskId} (${t.status}): ${t.problems.join('; ')}`);
        // what happened to the first of them, to read in the failure
        if (bad[0])
          unsound.push(
            `trail of ${bad[0].taskId}: ${(await events(bad[0].taskId))
              .map(
                (e) =>
                  `${e.type}${e.stepId ? `(${e.stepId})` : ''}${e.type === 'TaskFailed' ? ` ${JSON.stringify(e.data)}` : ''}`,
              )
              .join(' ')}`,
          );
      }
      await rt.close();
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      if (!opts.keep && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
      if (unsound.length > 0) throw new Error(`unsound audit trails:\n${unsound.join('\n')}`);
    },
  };
}
