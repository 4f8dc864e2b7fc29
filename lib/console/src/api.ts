/**
 * Every call the console makes to the Baton API, in one module, on the typed client generated from
 * the OpenAPI document (`lib/client/browser.ts`: openapi-fetch over `lib/client/schema.d.ts`, without
 * SigV4 so nothing of the AWS SDK is bundled). Paths, parameters, bodies and answers are checked
 * against the contract at compile time: a contract change breaks `tsc -p lib/console`.
 */
import type { Middleware } from 'openapi-fetch';
import {
  type ArtifactRef,
  type BatonClient,
  type CreateTaskRequest,
  createBatonClient,
  type DecisionRequest,
  type operations,
  type Problem,
  type Schemas,
  type TaskEvent,
  type TaskView,
} from '../../client/browser.js';
import { parseSseChunk } from './sse.js';

export type TaskStatus = TaskView['status'];
export type TaskSummary = Schemas['TaskPage']['tasks'][number];
export type ApprovalListing = Schemas['ApprovalList']['approvals'][number];
export type ApprovalRecord = Schemas['DecisionResponse']['approval'];
export type CreateTaskBody = CreateTaskRequest;
export type { ArtifactRef, TaskEvent, TaskView };

/**
 * Every task status, in lifecycle order (the filter's options). The console bundles no zod, so
 * this is a list of its own, checked against the generated contract: a status added to the API
 * fails the console's type check until it is here.
 */
const EVERY_STATUS = {
  QUEUED: true,
  PLANNING: true,
  RUNNING: true,
  AWAITING_APPROVAL: true,
  SUCCEEDED: true,
  DEGRADED: true,
  FAILED: true,
  CANCELLED: true,
} satisfies Record<TaskStatus, true>;
export const TASK_STATUSES = Object.keys(EVERY_STATUS) as readonly TaskStatus[];

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
let client: BatonClient | undefined;
export function configureApi(o: ApiOptions): void {
  options = o;
  client = undefined;
}

/** The credential is read on every request: a Cognito token is replaced while the page is open. */
const bearer: Middleware = {
  onRequest: ({ request }) => {
    const token = options.token();
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
};

function api(): BatonClient {
  client ??= createBatonClient({
    // `location` is the page's; the unit tests (Node, no DOM) always give a base.
    baseUrl: options.base || (globalThis as { location?: { origin: string } }).location?.origin || '',
    auth: { type: 'none' },
    middleware: [bearer],
    // Looked up per call, not captured once (tests stub it).
    fetch: (input) => globalThis.fetch(input),
  });
  return client;
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

function apiError(error: unknown, res: Response): ApiError {
  // A problem document, API Gateway's own `{ message }`, or a body that is not JSON.
  const p: Partial<Problem> & { message?: string } =
    typeof error === 'object' && error !== null ? error : { detail: typeof error === 'string' ? error : '' };
  return new ApiError(res.status, p.title ?? res.statusText, p.detail ?? p.message ?? '', p.issues ?? []);
}

/** Runs one call: its answer on a 2xx, an ApiError otherwise (status 0: it did not reach the API). */
async function answer<T>(request: Promise<Answer<T>>): Promise<{ data: T; response: Response }> {
  let res: Answer<T>;
  try {
    res = await request;
  } catch (err) {
    throw new ApiError(0, 'Network error', (err as Error).message);
  }
  if (res.response.status === 401) options.onUnauthorized?.();
  if (!res.response.ok) throw apiError(res.error, res.response);
  return { data: res.data as T, response: res.response };
}
const call = async <T>(request: Promise<Answer<T>>): Promise<T> => (await answer(request)).data;

/*
 * openapi-fetch infers each call's options as a type parameter, so an unknown query or header
 * parameter is not an excess-property error there (a missing required one is). The literals below
 * `satisfies` their operation's parameters, so a renamed or removed one fails the build.
 */
type Query<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;
type Header<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['header']>;

export const listTasks = (p: { status?: TaskStatus; cursor?: string; limit?: number } = {}) =>
  call(
    api().GET('/tasks', {
      // openapi-fetch leaves the undefined ones out of the query string.
      params: {
        query: { status: p.status, cursor: p.cursor, limit: p.limit ?? 50 } satisfies Query<'listTasks'>,
      },
    }),
  );

export const getTask = (id: string) => call(api().GET('/tasks/{id}', { params: { path: { id } } }));

export const listEvents = (id: string, after?: number) =>
  call(
    api().GET('/tasks/{id}/events', {
      params: { path: { id }, query: { after, limit: 1000 } satisfies Query<'listTaskEvents'> },
    }),
  );

export const listArtifacts = (id: string) =>
  call(api().GET('/tasks/{id}/artifacts', { params: { path: { id } } }));

/** An artifact's bytes (the API answers large ones with a redirect to S3, which fetch follows). */
export const fetchArtifact = async (taskId: string, artifactId: string): Promise<Blob> =>
  // openapi-fetch answers an empty body (Content-Length: 0, an empty artifact) with no data at all.
  (await call(
    api().GET('/tasks/{id}/artifacts/{artifactId}', {
      params: { path: { id: taskId, artifactId } },
      parseAs: 'blob',
    }),
  )) ?? new Blob([]);

export const submitTask = (body: CreateTaskBody, idempotencyKey: string) =>
  call(
    api().POST('/tasks', {
      // openapi-fetch's Writable<> cannot resolve the recursive JsonValue (plan inputs, `inputs`):
      // the body is typed as the generated CreateTaskRequest above and passed as never.
      body: body as never,
      params: { header: { 'Idempotency-Key': idempotencyKey } satisfies Header<'submitTask'> },
    }),
  );

export const cancelTask = (id: string) =>
  call(api().POST('/tasks/{id}/cancel', { params: { path: { id } } }));

export const redriveTask = (id: string) =>
  call(api().POST('/tasks/{id}/redrive', { params: { path: { id } } }));

export const listApprovals = (status: 'PENDING' | 'DECIDED' | 'EXPIRED' = 'PENDING') =>
  call(
    api().GET('/approvals', { params: { query: { status, limit: 100 } satisfies Query<'listApprovals'> } }),
  );

export const decideApproval = (id: string, decision: 'approve' | 'reject', comment?: string) => {
  const body: DecisionRequest = { decision, ...(comment ? { comment } : {}) };
  return call(
    api().POST('/approvals/{id}/decision', {
      params: { path: { id } },
      // As above: the decision body's `output` is a JsonValue, which openapi-fetch cannot type.
      body: body as never,
    }),
  );
};

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
    // openapi-fetch does not parse text/event-stream; `parseAs: 'stream'` hands over the body as is.
    const { data: body, response: res } = await answer(
      api().GET('/tasks/{id}/events/stream', {
        params: {
          path: { id: taskId },
          query: { after: cursor } satisfies Query<'streamTaskEvents'>,
          header: { 'Last-Event-ID': String(cursor) } satisfies Header<'streamTaskEvents'>,
        },
        headers: { accept: 'text/event-stream' },
        parseAs: 'stream',
        signal: abort.signal,
      }),
    );
    if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream'))
      throw new ApiError(res.status, 'Not an event stream', res.headers.get('content-type') ?? '');
    // An empty answer (no body, or Content-Length: 0, which openapi-fetch answers with no data).
    if (!body) return { retry: 1000, ended: false };
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
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
    // Held back: later events wait behind a number still being written; the task is not done yet.
    if (events.length === 0 && page.heldBack !== true) {
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
