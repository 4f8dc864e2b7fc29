/**
 * Readers that page the trail by `after` (GET /tasks/{id}/events, the stream, the CLI's --follow,
 * the console) are never moved past a number that may still be written while the task runs
 * (lambdas/core/trail.ts): writers number their events before they store them, side by side, so a
 * larger number can be stored first. A number missing for EVENT_SETTLE_MS is a gap for good and
 * is passed over; an ended task's trail is given as it is.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { streamTaskEvents } from '../../lambdas/api/event-stream.js';
import { listTaskEvents, submitTask } from '../../lambdas/api/tasks.js';
import { Events, recordedEvent, type TaskEvent } from '../../lambdas/core/events.js';
import { EVENT_SETTLE_MS, settledEvents } from '../../lambdas/core/trail.js';
import { MemoryStore } from '../fakes/memory-store.js';

const T0 = Date.parse('2026-12-03T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);
const event = (seq: number, atMs = 0): TaskEvent =>
  recordedEvent(
    Events.taskSubmitted({ taskId: 't_1', traceId: 'tr', run: 1 }, { goal: 'g', explicitPlan: true }),
    seq,
    at(atMs).toISOString(),
  );
const seqs = (events: readonly TaskEvent[]) => events.map((e) => e.seq);

describe('settledEvents', () => {
  it('gives a page without missing numbers as it is', () => {
    // Act
    const page = settledEvents([event(3), event(4), event(5)], 2, { now: at(0), ended: false });
    // Assess
    expect(seqs(page.events)).toEqual([3, 4, 5]);
    expect(page.heldBack).toBe(false);
  });

  it('stops before a missing number whose next event was numbered just now', () => {
    // Act: 5 is stored, 4 is not yet
    const page = settledEvents([event(3), event(5)], 2, { now: at(100), ended: false });
    const first = settledEvents([event(2)], undefined, { now: at(100), ended: false });
    // Assess
    expect(seqs(page.events)).toEqual([3]);
    expect(page.heldBack).toBe(true);
    expect(seqs(first.events)).toEqual([]);
    expect(first.heldBack).toBe(true);
  });

  it('passes over a number missing for the settle time: a gap for good', () => {
    // Act
    const page = settledEvents([event(3), event(5), event(6, 9_000)], 2, {
      now: at(EVENT_SETTLE_MS),
      ended: false,
    });
    // Assess: the gap before 5 is old; 6 follows 5 with no gap
    expect(seqs(page.events)).toEqual([3, 5, 6]);
    expect(page.heldBack).toBe(false);
  });
});

describe('GET /tasks/{id}/events with a number still being written', () => {
  let store: MemoryStore;
  let now: Date;
  const deps = () =>
    ({
      store,
      queue: { send: async () => undefined },
      knownAgents: () => new Set(['echo']),
      now: () => now,
    }) as never;

  const submit = () =>
    submitTask(deps(), { goal: 'g', plan: { steps: [{ id: 'a', agent: 'echo' }] } }, undefined);

  beforeEach(() => {
    store = new MemoryStore();
    now = new Date();
  });

  it('holds back what follows the reserved number until it is written, without a next', async () => {
    // Prepare: a writer reserved seq 2 and has not written it; another wrote seq 3
    const { taskId } = await submit();
    const scope = { taskId, traceId: 'tr', run: 1 };
    const reserved = await store.reserveSeqs(taskId, 1);
    await store.appendEvent(Events.executionStarted(scope, { run: 1, executionName: 'x' }));

    // Act
    const held = await listTaskEvents(deps(), taskId, { after: 1, limit: 100 });
    await store.appendEvents([Events.planningStarted(scope, {})], { firstSeq: reserved.first });
    const landed = await listTaskEvents(deps(), taskId, { after: 1, limit: 100 });

    // Assess
    expect(held).toEqual({ events: [], heldBack: true });
    expect(landed.events.map((e) => [e.seq, e.type])).toEqual([
      [2, 'PlanningStarted'],
      [3, 'ExecutionStarted'],
    ]);
    expect(landed).not.toHaveProperty('heldBack');
  });

  it('passes over a reserved number never written once the settle time is over', async () => {
    // Prepare
    const { taskId } = await submit();
    await store.reserveSeqs(taskId, 1);
    await store.appendEvent(
      Events.executionStarted({ taskId, traceId: 'tr', run: 1 }, { run: 1, executionName: 'x' }),
    );

    // Act
    now = new Date(Date.now() + EVENT_SETTLE_MS);
    const page = await listTaskEvents(deps(), taskId, { limit: 100 });

    // Assess
    expect(page.events.map((e) => e.seq)).toEqual([1, 3]);
  });

  it("gives an ended task's trail as it is (read after the end)", async () => {
    // Prepare: the task was cancelled; seq 2 was reserved and never written
    const { taskId } = await submit();
    await store.reserveSeqs(taskId, 1);
    await store.appendEvent(
      Events.taskCancelled({ taskId, traceId: 'tr', run: 1 }, { run: 1, previousStatus: 'QUEUED' }),
    );

    // Act
    const page = await listTaskEvents(deps(), taskId, { limit: 100 });

    // Assess
    expect((await store.getTask(taskId))?.status).toBe('CANCELLED');
    expect(page.events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'TaskSubmitted'],
      [3, 'TaskCancelled'],
    ]);
  });
});

describe('the events stream with a number still being written', () => {
  /** A task whose stored events the test changes while the stream waits (each wait: 500 ms). */
  function streamDeps(state: { status: string; events: TaskEvent[]; onSleep?: (clock: number) => void }) {
    let clock = 0;
    return {
      store: {
        getTask: async () => ({ taskId: 't_1', status: state.status }),
        listEvents: async (_id: string, o: { after?: number; limit: number }) => ({
          events: state.events.filter((e) => e.seq > (o.after ?? 0)).slice(0, o.limit),
          next: undefined,
        }),
      },
      now: () => at(clock),
      sleep: async (ms: number) => {
        clock += ms;
        state.onSleep?.(clock);
      },
    } as never;
  }

  it('waits for the missing number and then answers both', async () => {
    // Prepare: 3 is stored, 2 lands after the first wait
    const state: Parameters<typeof streamDeps>[0] = { status: 'RUNNING', events: [event(1), event(3)] };
    state.onSleep = () => {
      if (!state.events.some((e) => e.seq === 2)) state.events.splice(1, 0, event(2));
    };
    // Act
    const batch = await streamTaskEvents(streamDeps(state), 't_1', { after: 1, wait: 10 });
    // Assess
    expect(seqs(batch.events)).toEqual([2, 3]);
  });

  it('holds back behind a number missing while the task runs, and passes over a gap for good', async () => {
    // Prepare: 2 was reserved and never written
    const state = { status: 'RUNNING', events: [event(1), event(3)] };
    // Act: the first answer holds 3 back; a longer wait outlasts the settle time
    const first = await streamTaskEvents(streamDeps(state), 't_1', { after: 1, wait: 1 });
    const later = await streamTaskEvents(streamDeps(state), 't_1', { after: 1, wait: 20 });
    // Assess
    expect(first).toEqual({ events: [], more: false });
    expect(seqs(later.events)).toEqual([3]);
  });

  it("gives an ended task's trail as it is, then end", async () => {
    // Prepare: the task ended; 2 is missing
    const state = { status: 'SUCCEEDED', events: [event(1), event(3)] };
    // Act
    const rest = await streamTaskEvents(streamDeps(state), 't_1', { after: 1, wait: 10 });
    const end = await streamTaskEvents(streamDeps(state), 't_1', { after: 3, wait: 10 });
    // Assess
    expect(seqs(rest.events)).toEqual([3]);
    expect(end.ended).toEqual({ status: 'SUCCEEDED' });
  });
});
