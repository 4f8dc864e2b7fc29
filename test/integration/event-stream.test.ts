/**
 * GET /tasks/{id}/events/stream through the local runtime: long-poll SSE that replays after the
 * cursor, waits for news while the task runs, and says `end` once it ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSseChunk } from '../../lib/console/src/sse.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const stream = async (taskId: string, query = '', headers: Record<string, string> = {}) => {
  const res = await h.api('GET', `/tasks/${taskId}/events/stream${query}`, undefined, headers);
  const text = res.raw.toString('utf8');
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: res.body,
    ...parseSseChunk(text),
  };
};

describe('the events stream', () => {
  it('replays the trail after the cursor, then answers end once the task ended', async () => {
    // Prepare
    const taskId = await h.submit({ goal: 'stream me', plan: { steps: [{ id: 'a', agent: 'echo' }] } });
    await h.waitFor(taskId, ['SUCCEEDED']);
    const trail = await h.events(taskId);
    const last = trail.at(-1)?.seq as number;

    // Act
    const all = await stream(taskId, '?after=0');
    const fromThird = await stream(taskId, '?after=0', { 'last-event-id': String(trail[2]?.seq) });
    const ended = await stream(taskId, '', { 'last-event-id': String(last) });

    // Assess
    expect(all.status).toBe(200);
    expect(all.type).toBe('text/event-stream; charset=utf-8');
    expect(all.retry).toBe(1000);
    expect(all.messages.map((m) => Number(m.id))).toEqual(trail.map((e) => e.seq));
    expect(all.messages.map((m) => m.event)).toEqual(trail.map((e) => e.type));
    expect(all.messages.map((m) => JSON.parse(m.data))).toEqual(trail);
    expect(fromThird.messages.map((m) => Number(m.id))).toEqual(trail.slice(3).map((e) => e.seq));
    expect(ended.messages).toEqual([{ event: 'end', data: '{"status":"SUCCEEDED"}' }]);
  });

  it('waits for news while the task waits, and brings it when it comes', async () => {
    // Prepare: a gate that waits for a decision
    const taskId = await h.submit({
      goal: 'stream a gate',
      plan: { steps: [{ id: 'g', agent: 'echo', approval: 'before' }] },
    });
    await h.waitFor(taskId, ['AWAITING_APPROVAL']);
    const last = (await h.events(taskId)).at(-1)?.seq as number;
    const approvals = await h.api<{ approvals: { id: string; taskId: string }[] }>('GET', '/approvals');
    const approval = approvals.body.approvals.find((a) => a.taskId === taskId)?.id as string;

    // Act: nothing new within a second; then the decision, while a stream waits for it
    const quiet = await stream(taskId, '?wait=1', { 'last-event-id': String(last) });
    const waiting = stream(taskId, '?wait=20', { 'last-event-id': String(last) });
    await h.api('POST', `/approvals/${approval}/decision`, { decision: 'approve' });
    const news = await waiting;

    // Assess
    expect(quiet.status).toBe(200);
    expect(quiet.messages).toEqual([]);
    expect(quiet.retry).toBe(1000);
    expect(news.messages[0]?.event).toBe('ApprovalDecided');
    expect(Number(news.messages[0]?.id)).toBeGreaterThan(last);
  });

  it('refuses a cursor that is not a seq (400) and an unknown task (404), as problem documents', async () => {
    // Prepare
    const taskId = await h.submit({ goal: 'stream errors', plan: { steps: [{ id: 'a', agent: 'echo' }] } });
    // Act
    const bad = await stream(taskId, '', { 'last-event-id': 'abc' });
    const unknown = await stream('t_nope', '?wait=0');
    // Assess
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ issues: [{ path: 'header.last-event-id' }] });
    expect(unknown.status).toBe(404);
    expect(unknown.type).toBe('application/problem+json');
  });
});
