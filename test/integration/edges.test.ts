/**
 * HTTP edges through the local runtime (issue 10, item 4): malformed escapes, ids no resource can
 * have and look-alike content types are 4xx problems that change nothing; problem documents keep
 * RFC 9457's member types; the local API Gateway shim refuses a body over the HTTP API's quota
 * before buffering it.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_API_REQUEST_BYTES } from '../../lib/local/runtime.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const taskCount = async () =>
  (await h.api<{ tasks: unknown[] }>('GET', '/tasks?limit=100')).body.tasks.length;

describe('paths', () => {
  it('answers a malformed percent-escape with a 400 problem naming the segment', async () => {
    // Act
    const res = await h.api('GET', '/tasks/%E0%A4%A');
    // Assess
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.issues).toEqual([
      { path: 'path.id', message: expect.stringContaining('percent-encoding') },
    ]);
  });

  it('answers an id longer than any id the API hands out with a 400, and an unknown well-formed one with 404', async () => {
    // Act
    const long = await h.api('GET', `/tasks/t_${'x'.repeat(2100)}`);
    const odd = await h.api('GET', `/tasks/${encodeURIComponent('t_1/../x')}/artifacts`);
    const unknown = await h.api('GET', '/tasks/t_nope');
    // Assess
    expect(long.status).toBe(400);
    expect(long.body.issues).toEqual([{ path: 'path.id', message: expect.stringContaining('1-128') }]);
    expect(odd.status).toBe(400);
    expect(unknown.status).toBe(404);
  });

  it('shows the "link not valid" page (403) for an approval link with a malformed id, without the API key', async () => {
    // Act
    const res = await fetch(`${h.rt.url}/approvals/%ZZ?exp=1&sig=x`);
    // Assess
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('Link not valid');
  });
});

describe('bodies', () => {
  it('refuses a look-alike JSON content type and creates nothing', async () => {
    // Prepare
    const before = await taskCount();
    const body = JSON.stringify({ goal: 'g', plan: { steps: [{ id: 'a', agent: 'echo' }] } });
    // Act
    const patch = await h.api('POST', '/tasks', body, { 'content-type': 'application/jsonpatch' });
    const seq = await h.api('POST', '/tasks', body, { 'content-type': 'application/json-seq' });
    const plus = await h.api('POST', '/tasks', body, {
      'content-type': 'application/vnd.baton+json; charset=utf-8',
    });
    // Assess
    expect(patch.status).toBe(400);
    expect(String(patch.body.detail)).toContain('Send the body as application/json');
    expect(seq.status).toBe(400);
    expect(plus.status).toBe(202);
    expect(await taskCount()).toBe(before + 1);
  });

  it('answers a body over API Gateway’s 10 MB quota with 413 before reading it', async () => {
    // Prepare: a request that declares 11 MiB and sends only its first bytes
    const declared = MAX_API_REQUEST_BYTES + 1024 * 1024;
    const url = new URL('/tasks', h.rt.url);
    // Act
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: {
            authorization: 'Bearer test-key',
            'content-type': 'application/json',
            'content-length': String(declared),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{"goal":"');
    });
    // Assess: answered with the first bytes only, so nothing was buffered
    expect(status).toBe(413);
    expect((await h.api('GET', '/healthz')).status).toBe(200);
  });
});

describe('user JSON', () => {
  it('refuses inputs nested deeper than 32 levels (here 1,100) with a 400 naming the limit and the place, and stays up', async () => {
    // Prepare
    const before = await taskCount();
    const body = `{"goal":"deep","plan":{"steps":[{"id":"a","agent":"echo"}]},"inputs":{"x":${'['.repeat(1100)}${']'.repeat(1100)}}}`;
    // Act
    const res = await h.api('POST', '/tasks', body);
    // Assess
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([
      {
        path: expect.stringMatching(/^body\.inputs\.x(\[0\])+$/),
        message: expect.stringContaining('deeper than 32 levels'),
      },
    ]);
    expect(await taskCount()).toBe(before);
    expect((await h.api('GET', '/healthz')).status).toBe(200);
  });

  it('refuses a "__proto__" key anywhere with a 400, and creates nothing', async () => {
    const before = await taskCount();
    const res = await h.api(
      'POST',
      '/tasks',
      '{"goal":"g","plan":{"steps":[{"id":"a","agent":"echo","input":{"__proto__":{"x":1}}}]}}',
    );
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([
      { path: 'body.plan.steps[0].input.__proto__', message: 'the key "__proto__" is reserved' },
    ]);
    expect(await taskCount()).toBe(before);
  });

  it('keeps keys such as "constructor" in inputs, step inputs and agent outputs, end to end', async () => {
    // Prepare: JSON whose keys break the SDK's map marshalling
    const odd = { constructor: { name: 'c' }, prototype: [1], toString: 'x', hasOwnProperty: null };
    // Act
    const taskId = await h.submit({
      goal: 'odd keys',
      plan: { steps: [{ id: 'constructor', agent: 'echo', input: odd }] },
      inputs: odd,
    });
    const done = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    // Assess: the step ran and its output (the echo of its input) came back as sent
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.stringify(done.plan.steps[0]?.output)).toContain(JSON.stringify(odd));
  });
});

describe('problem documents', () => {
  it('keep status a number in a 409 about an ended task; the task status is its own member', async () => {
    // Prepare
    const taskId = await h.submit({ goal: 'quick', plan: { steps: [{ id: 'a', agent: 'echo' }] } });
    await h.waitFor(taskId, ['SUCCEEDED']);
    // Act
    const cancel = await h.api('POST', `/tasks/${taskId}/cancel`);
    const redrive = await h.api('POST', `/tasks/${taskId}/redrive`);
    // Assess
    expect(cancel.status).toBe(409);
    expect(cancel.body).toMatchObject({ status: 409, title: 'Conflict', taskStatus: 'SUCCEEDED' });
    expect(redrive.body).toMatchObject({ status: 409, taskStatus: 'SUCCEEDED' });
  });
});
