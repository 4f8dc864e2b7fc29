/** The console's live feed (followEvents): long-poll SSE with Last-Event-ID, polling when the stream fails. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { configureApi, followEvents, type TaskEvent } from '../../lib/console/src/api.js';

const event = (seq: number, type = 'StepStarted') => ({ seq, type, id: `e${seq}` }) as unknown as TaskEvent;
const sse = (body: string) =>
  new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
const frame = (e: TaskEvent) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

describe('followEvents', () => {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  let answers: ((url: string) => Response | Promise<Response>)[] = [];
  beforeEach(() => {
    vi.useFakeTimers();
    calls.length = 0;
    configureApi({ base: 'http://api', token: () => 'k' });
    // The console's calls go through the typed client (openapi-fetch), which fetches a Request.
    vi.stubGlobal('fetch', async (request: Request) => {
      calls.push({ url: request.url, headers: Object.fromEntries(request.headers) });
      const next = answers.shift();
      if (!next) return new Promise<Response>(() => {});
      return next(request.url);
    });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it('reconnects after each answer with the last id it saw, and stops at end', async () => {
    // Prepare
    answers = [
      () => sse(`retry: 1000\n\n${frame(event(1))}${frame(event(2))}`),
      () => sse(`retry: 1000\n\n${frame(event(3))}`),
      () => sse('retry: 1000\n\nevent: end\ndata: {"status":"SUCCEEDED"}\n\n'),
    ];
    const seen: number[] = [];
    const ended: string[] = [];
    // Act
    const feed = followEvents('t_1', {
      onEvents: (es) => seen.push(...es.map((e) => e.seq)),
      onEnd: (s) => ended.push(s),
    });
    await vi.advanceTimersByTimeAsync(5000);
    feed.close();
    // Assess
    expect(seen).toEqual([1, 2, 3]);
    expect(ended).toEqual(['SUCCEEDED']);
    expect(calls.map((c) => c.headers['last-event-id'])).toEqual(['0', '2', '3']);
    expect(calls[0]?.headers.authorization).toBe('Bearer k');
    expect(calls).toHaveLength(3);
  });

  it('falls back to polling GET /tasks/{id}/events when the stream fails twice in a row', async () => {
    // Prepare: the stream endpoint is not there (e.g. a proxy that buffers or refuses it)
    const notFound = () => new Response('{"title":"Not found","detail":"x"}', { status: 404 });
    answers = [
      notFound,
      notFound,
      () => Response.json({ events: [event(1), event(2)] }),
      () => Response.json({ events: [] }),
      () => Response.json({ taskId: 't_1', status: 'SUCCEEDED' }),
    ];
    const seen: number[] = [];
    const ended: string[] = [];
    // Act
    const feed = followEvents('t_1', {
      onEvents: (es) => seen.push(...es.map((e) => e.seq)),
      onEnd: (s) => ended.push(s),
    });
    await vi.advanceTimersByTimeAsync(10_000);
    // Assess
    expect(feed.mode()).toBe('polling');
    expect(calls.map((c) => new URL(c.url).pathname)).toEqual([
      '/tasks/t_1/events/stream',
      '/tasks/t_1/events/stream',
      '/tasks/t_1/events',
      '/tasks/t_1/events',
      '/tasks/t_1',
    ]);
    expect(new URL(calls[3]?.url ?? '').searchParams.get('after')).toBe('2');
    expect(seen).toEqual([1, 2]);
    expect(ended).toEqual(['SUCCEEDED']);
    feed.close();
  });
});
