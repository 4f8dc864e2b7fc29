/** The events stream endpoint's pieces: SSE framing, the cursor, and long-poll waiting. */
import { describe, expect, it } from 'vitest';
import { sseFrames, streamCursor, streamTaskEvents } from '../../lambdas/api/event-stream.js';
import type { ApiDeps } from '../../lambdas/api/tasks.js';
import { ValidationError } from '../../lambdas/core/errors.js';
import { Events, recordedEvent, type TaskEvent } from '../../lambdas/core/events.js';
import type { TaskStatus } from '../../lambdas/core/schemas.js';
import { parseSseChunk } from '../../lib/console/src/sse.js';

const scope = { taskId: 't_1', traceId: 'tr', run: 1 };
const event = (seq: number): TaskEvent =>
  recordedEvent(
    Events.taskSubmitted(scope, { goal: 'g', explicitPlan: true }),
    seq,
    '2026-01-01T00:00:00.000Z',
  );

/** A store with one task whose events and status the test changes as "time" passes. */
function fakeDeps(state: { status: TaskStatus; events: TaskEvent[]; onSleep?: () => void }) {
  let clock = 0;
  const deps = {
    store: {
      getTask: async (id: string) => (id === 't_1' ? { taskId: id, status: state.status } : undefined),
      listEvents: async (_id: string, o: { after?: number; limit: number }) => {
        const events = state.events.filter((e) => e.seq > (o.after ?? 0));
        return { events: events.slice(0, o.limit), next: events.length > o.limit ? o.limit : undefined };
      },
    },
    now: () => new Date(clock),
    sleep: async (ms: number) => {
      clock += ms;
      state.onSleep?.();
    },
  };
  return deps as unknown as ApiDeps & { sleep: (ms: number) => Promise<void> };
}

describe('SSE framing', () => {
  it('frames each event with its seq as id and its type as event name, after a retry hint', () => {
    // Act
    const text = sseFrames({ events: [event(3), event(7)], more: false }, 1500);
    // Assess
    expect(text.startsWith('retry: 1500\n\n')).toBe(true);
    expect(text).toContain(`id: 3\nevent: TaskSubmitted\ndata: ${JSON.stringify(event(3))}\n\n`);
    const parsed = parseSseChunk(text);
    expect(parsed.messages.map((m) => [m.id, m.event])).toEqual([
      ['3', 'TaskSubmitted'],
      ['7', 'TaskSubmitted'],
    ]);
    expect(JSON.parse(parsed.messages[1]?.data ?? '')).toEqual(event(7));
    expect(parsed.retry).toBe(1500);
    expect(parsed.rest).toBe('');
  });

  it('ends with an end event once the task ended, and asks for an immediate reconnect when more wait', () => {
    // Act
    const ended = parseSseChunk(sseFrames({ events: [], ended: { status: 'SUCCEEDED' }, more: false }));
    const more = parseSseChunk(sseFrames({ events: [event(1)], more: true }));
    // Assess
    expect(ended.messages).toEqual([{ event: 'end', data: '{"status":"SUCCEEDED"}' }]);
    expect(more.retry).toBe(0);
  });

  it('keeps an unfinished frame for the next chunk', () => {
    // Act
    const first = parseSseChunk('id: 1\nevent: A\ndata: {"x"');
    const second = parseSseChunk(`${first.rest}:1}\n\n`);
    // Assess
    expect(first.messages).toEqual([]);
    expect(second.messages).toEqual([{ id: '1', event: 'A', data: '{"x":1}' }]);
  });
});

describe('stream cursor', () => {
  it('takes Last-Event-ID over ?after= and refuses one that is not a seq', () => {
    expect(streamCursor('12', 3)).toBe(12);
    expect(streamCursor(undefined, 3)).toBe(3);
    expect(streamCursor('', undefined)).toBeUndefined();
    expect(() => streamCursor('abc', 3)).toThrow(ValidationError);
  });
});

describe('streamTaskEvents (long-poll)', () => {
  it('answers at once with the events after the cursor', async () => {
    // Prepare
    const deps = fakeDeps({ status: 'RUNNING', events: [event(1), event(2), event(3)] });
    // Act
    const batch = await streamTaskEvents(deps, 't_1', { after: 1, wait: 10 });
    // Assess
    expect(batch.events.map((e) => e.seq)).toEqual([2, 3]);
    expect(batch.ended).toBeUndefined();
  });

  it('waits for the first new event while the task runs', async () => {
    // Prepare: the event arrives after the first look
    const state: Parameters<typeof fakeDeps>[0] = { status: 'RUNNING', events: [event(1)] };
    state.onSleep = () => state.events.push(event(2));
    // Act
    const batch = await streamTaskEvents(fakeDeps(state), 't_1', { after: 1, wait: 10 });
    // Assess
    expect(batch.events.map((e) => e.seq)).toEqual([2]);
  });

  it('answers nothing when the wait is over, and end once the task ended with nothing left', async () => {
    // Prepare
    const running = fakeDeps({ status: 'RUNNING', events: [event(1)] });
    const ended = fakeDeps({ status: 'SUCCEEDED', events: [event(1)] });
    // Act
    const quiet = await streamTaskEvents(running, 't_1', { after: 1, wait: 2 });
    const done = await streamTaskEvents(ended, 't_1', { after: 1, wait: 10 });
    const rest = await streamTaskEvents(ended, 't_1', { after: 0, wait: 10 });
    // Assess
    expect(quiet).toEqual({ events: [], more: false });
    expect(done).toEqual({ events: [], ended: { status: 'SUCCEEDED' }, more: false });
    expect(rest.events.map((e) => e.seq)).toEqual([1]);
  });

  it('is a 404 for a task that does not exist', async () => {
    await expect(
      streamTaskEvents(fakeDeps({ status: 'RUNNING', events: [] }), 't_2', { wait: 0 }),
    ).rejects.toThrow('No task t_2.');
  });
});
