/**
 * POST /tasks' reads (lambdas/api/tasks.ts submitTask): an Idempotency-Key claimed just now names
 * the new task, so nothing is read before the task's items are written; a key claimed before
 * names the earlier task, which is read (a replay answers with it, a retry of a request that
 * stopped before its task existed writes it).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { submitTask } from '../../lambdas/api/tasks.js';
import { canonicalJson, sha256Hex } from '../../lambdas/core/ids.js';
import { MemoryStore } from '../fakes/memory-store.js';

let store: MemoryStore;
let reads: string[];
let sent: unknown[];
const body = { goal: 'g', plan: { steps: [{ id: 'a', agent: 'echo' }] } };
const deps = () =>
  ({
    store,
    queue: { send: async (m: unknown) => void sent.push(m) },
    knownAgents: () => new Set(['echo']),
  }) as never;

beforeEach(() => {
  store = new MemoryStore();
  reads = [];
  sent = [];
  const getTask = store.getTask.bind(store);
  store.getTask = async (taskId) => {
    reads.push(taskId);
    return getTask(taskId);
  };
});

describe('submitting with an Idempotency-Key', () => {
  it('reads no task for a key claimed just now', async () => {
    // Act
    const first = await submitTask(deps(), body, 'key-1');

    // Assess
    expect(first.created).toBe(true);
    expect(reads).toEqual([]);
    expect((await store.getTask(first.taskId))?.status).toBe('QUEUED');
  });

  it('reads the task a replayed key names, and creates nothing new', async () => {
    // Prepare
    const first = await submitTask(deps(), body, 'key-1');

    // Act
    const again = await submitTask(deps(), body, 'key-1');

    // Assess
    expect(again).toEqual({ taskId: first.taskId, status: 'QUEUED', created: false });
    expect(reads).toEqual([first.taskId]);
    expect((await store.listTasks({ limit: 10 })).tasks).toHaveLength(1);
  });

  it('writes the task of a key whose first request stopped before its task existed', async () => {
    // Prepare: the key was claimed for t_lost by this very request, which then died
    const hash = sha256Hex(canonicalJson(body));
    await store.claimIdempotencyKey('key-2', 't_lost', hash, new Date().toISOString());

    // Act: the retry
    const out = await submitTask(deps(), body, 'key-2');

    // Assess: it looked for t_lost, found none, and wrote it
    expect(out).toEqual({ taskId: 't_lost', status: 'QUEUED', created: true });
    expect(reads).toEqual(['t_lost']);
    expect((await store.getTask('t_lost'))?.goal).toBe('g');
  });
});
