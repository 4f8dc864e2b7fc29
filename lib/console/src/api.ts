/**
 * Every call the console makes to the Baton API, in one module with typed functions (so it can move
 * onto the client generated from the OpenAPI document without touching the views). Types are the
 * API's own zod contracts (type imports only: nothing of lambdas/ is bundled).
 */
import type { ApprovalListing, ApprovalRecord } from '../../../lambdas/core/approvals.js';
import type { TaskEvent } from '../../../lambdas/core/events.js';
import type {
  ArtifactRef,
  CreateTaskBody,
  TaskStatus,
  TaskSummary,
  TaskView,
} from '../../../lambdas/core/schemas.js';
import { parseSseChunk } from './sse.js';

export type { ApprovalListing, ArtifactRef, CreateTaskBody, TaskEvent, TaskStatus, TaskSummary, TaskView };

export const TASK_STATUSES: readonly TaskStatus[] = [
  'QUEUED',
  'PLANNING',
  'RUNNING',
  'AWAITING_APPROVAL',
  'SUCCEEDED',
  'DEGRADED',
  'FAILED',
  'CANCELLED',
];

/** A problem+json answer (RFC 9457), or a transport failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(`${status} ${title}: ${detail}`);
    this.name = 'ApiError';
  }
}

export interface ApiOptions {
  /** Where the API is: '' locally (same origin), `<api url>/console-api` in AWS. */
  base: string;
  /** The bearer credential: the API key locally, the Cognito access token in AWS. */
  token: () => string | undefined;
  /** Called on a 401 (sign in again). */
  onUnauthorized?: () => void;
}

let options: ApiOptions = { base: '', token: () => undefined };
export function configureApi(o: ApiOptions): void {
  options = o;
}

async function request(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
) {
  const token = options.token();
  let res: Response;
  try {
    res = await fetch(`${options.base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    throw new ApiError(0, 'Network error', (err as Error).message);
  }
  if (res.status === 401) options.onUnauthorized?.();
  if (!res.ok) {
    const text = await res.text();
    let p: { title?: string; detail?: string; issues?: { path: string; message: string }[] } = {};
    try {
      p = JSON.parse(text);
    } catch {
      p = { detail: text };
    }
    throw new ApiError(res.status, p.title ?? res.statusText, p.detail ?? '', p.issues ?? []);
  }
  return res;
}

const getJson = async <T>(path: string): Promise<T> => (await (await request('GET', path)).json()) as T;
const postJson = async <T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> =>
  (await (await request('POST', path, body ?? {}, headers)).json()) as T;

const q = (params: Record<string, string | number | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v));
  const text = s.toString();
  return text ? `?${text}` : '';
};
const seg = encodeURIComponent;

export const listTasks = (p: { status?: TaskStatus; cursor?: string; limit?: number } = {}) =>
  getJson<{ tasks: TaskSummary[]; next?: string }>(`/tasks${q({ limit: 50, ...p })}`);

export const getTask = (id: string) => getJson<TaskView>(`/tasks/${seg(id)}`);

export const listEvents = (id: string, after?: number) =>
  getJson<{ events: TaskEvent[]; next?: number }>(`/tasks/${seg(id)}/events${q({ after, limit: 1000 })}`);

export const listArtifacts = (id: string) =>
  getJson<{ artifacts: ArtifactRef[] }>(`/tasks/${seg(id)}/artifacts`);

/** An artifact's bytes (the API answers large ones with a redirect to S3, which fetch follows). */
export async function fetchArtifact(taskId: string, artifactId: string): Promise<Blob> {
  return (await request('GET', `/tasks/${seg(taskId)}/artifacts/${seg(artifactId)}`)).blob();
}

export const submitTask = (body: CreateTaskBody, idempotencyKey: string) =>
  postJson<{ taskId: string; status: TaskStatus }>('/tasks', body, { 'idempotency-key': idempotencyKey });

export const cancelTask = (id: string) =>
  postJson<{ taskId: string; status: TaskStatus }>(`/tasks/${seg(id)}/cancel`);

export const redriveTask = (id: string) =>
  postJson<{ taskId: string; status: TaskStatus; run: number }>(`/tasks/${seg(id)}/redrive`);

export const listApprovals = (status: 'PENDING' | 'DECIDED' | 'EXPIRED' = 'PENDING') =>
  getJson<{ approvals: ApprovalListing[] }>(`/approvals${q({ status, limit: 100 })}`);

export const decideApproval = (id: string, decision: 'approve' | 'reject', comment?: string) =>
  postJson<{ approval: ApprovalRecord }>(`/approvals/${seg(id)}/decision`, {
    decision,
    ...(comment ? { comment } : {}),
  });

export interface EventFeed {
  close(): void;
  /** 'stream' while the SSE endpoint answers, 'polling' after it failed. */
  mode(): 'stream' | 'polling';
}

/**
 * The task's events from `after` on, live: the events stream endpoint (long-poll SSE, reconnecting
 * with Last-Event-ID), and polling GET /tasks/{id}/events when the stream fails twice in a row.
 * `onEnd` is told when the task ended and nothing is left; the feed then stops.
 */
export function followEvents(
  taskId: string,
  handlers: {
    onEvents: (events: TaskEvent[]) => void;
    onEnd?: (status: TaskStatus) => void;
    onError?: (e: Error) => void;
  },
  after = 0,
): EventFeed {
  let cursor = after;
  let closed = false;
  let mode: 'stream' | 'polling' = 'stream';
  let failures = 0;
  const abort = new AbortController();
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const streamOnce = async (): Promise<{ retry: number; ended: boolean }> => {
    const res = await request(
      'GET',
      `/tasks/${seg(taskId)}/events/stream${q({ after: cursor })}`,
      undefined,
      {
        accept: 'text/event-stream',
        'last-event-id': String(cursor),
      },
      abort.signal,
    );
    if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream') || !res.body)
      throw new ApiError(res.status, 'Not an event stream', res.headers.get('content-type') ?? '');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let retry = 1000;
    let ended = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const parsed = parseSseChunk(buffer + value);
      buffer = parsed.rest;
      if (parsed.retry !== undefined) retry = parsed.retry;
      const events: TaskEvent[] = [];
      for (const m of parsed.messages) {
        if (m.event === 'end') {
          ended = true;
          handlers.onEnd?.((JSON.parse(m.data) as { status: TaskStatus }).status);
          continue;
        }
        const e = JSON.parse(m.data) as TaskEvent;
        if (e.seq > cursor) {
          events.push(e);
          cursor = e.seq;
        }
      }
      if (events.length) handlers.onEvents(events);
    }
    return { retry, ended };
  };

  const pollOnce = async (): Promise<boolean> => {
    const page = await listEvents(taskId, cursor);
    const events = page.events.filter((e) => e.seq > cursor);
    if (events.length) {
      cursor = events.at(-1)?.seq ?? cursor;
      handlers.onEvents(events);
    }
    if (events.length === 0) {
      const view = await getTask(taskId);
      if (['SUCCEEDED', 'DEGRADED', 'FAILED', 'CANCELLED'].includes(view.status)) {
        handlers.onEnd?.(view.status);
        return true;
      }
    }
    return false;
  };

  void (async () => {
    while (!closed) {
      try {
        if (mode === 'stream') {
          const { retry, ended } = await streamOnce();
          failures = 0;
          if (ended) return;
          await wait(retry);
        } else {
          if (await pollOnce()) return;
          await wait(2000);
        }
      } catch (err) {
        if (closed) return;
        handlers.onError?.(err as Error);
        failures += 1;
        if (mode === 'stream' && failures >= 2) mode = 'polling';
        await wait(Math.min(10_000, 1000 * failures));
      }
    }
  })();

  return {
    close() {
      closed = true;
      abort.abort();
    },
    mode: () => mode,
  };
}
