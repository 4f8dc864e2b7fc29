/**
 * Property-based tests of the API through the local runtime (issue 10, item 5), with fast-check.
 * Whatever a client sends (bodies, paths, methods, headers), the answer is a 4xx problem with a
 * useful message or a valid task that reaches a terminal state: never a 5xx, never a partial
 * write (a refused request leaves no task and no item of one), never a stuck task, and the
 * runtime stays up.
 *
 * The seed is fixed and printed with the number of runs; `BATON_FUZZ_SEED=<n>` replays another.
 * Requests go through node:http, so paths reach the runtime exactly as generated (`..`, `%zz`).
 */
import { request } from 'node:http';
import { DynamoDBClient, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../lambdas/core/ids.js';
import { CreateTaskBody, LIMITS } from '../../lambdas/core/schemas.js';
import { jsonWith, objectOf } from '../fakes/json-arbitraries.js';
import { type Harness, startHarness } from './harness.js';

const SEED = fuzzSeed();
const RUNS = { bodies: 120, paths: 150, list: 60, headers: 80 } as const;
/** How long an accepted task may take to end (it runs echo steps; gates time out in 1-2 s). */
const TASK_TIMEOUT_MS = 90_000;
const TERMINAL = ['SUCCEEDED', 'FAILED', 'DEGRADED'];

/** The seed: BATON_FUZZ_SEED when set (an integer), else the fixed default. */
function fuzzSeed(): number {
  const given = process.env.BATON_FUZZ_SEED;
  if (given === undefined || given === '') return 100_105;
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`BATON_FUZZ_SEED must be an integer, got "${given}"`);
  return seed;
}

let h: Harness;
/** Every task that exists: the ones the API accepted here (nothing else creates tasks). */
const known = new Set<string>();
/** What was sent for each accepted task, to check once it ended. */
const accepted = new Map<string, { body: string; property: string }>();

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/* ------------------------------------------------------------------ HTTP */

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request exactly as given (method, raw path, headers), with the API key. */
function send(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Reply> {
  const url = new URL(h.rt.url);
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: {
          authorization: 'Bearer test-key',
          ...(body ? { 'content-length': String(body.byteLength) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const describeReply = (r: Reply, what: string) =>
  `${what} -> ${r.status} ${r.headers['content-type'] ?? ''} ${r.body.toString('utf8').slice(0, 300)}`;

/** A 4xx problem document: problem+json, `status` the HTTP status, a title and a detail that say something. */
function expectProblem(r: Reply, what: string, opts: { head?: boolean } = {}): void {
  const context = describeReply(r, what);
  expect(r.status, context).toBeGreaterThanOrEqual(400);
  expect(r.status, context).toBeLessThan(500);
  expect(r.headers['content-type'], context).toBe('application/problem+json');
  if (opts.head) return; // a HEAD answer has headers only
  const doc = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
  expect(doc.status, context).toBe(r.status);
  expect(typeof doc.title === 'string' && doc.title.trim().length > 0, context).toBe(true);
  expect(typeof doc.detail === 'string' && doc.detail.trim().length > 0, context).toBe(true);
}

/** The ids of the newest tasks: a task a refused request created would be among them. */
async function newestTaskIds(): Promise<string[]> {
  const r = await send('GET', '/tasks?limit=10');
  expect(r.status, describeReply(r, 'GET /tasks?limit=10')).toBe(200);
  return (JSON.parse(r.body.toString('utf8')) as { tasks: { taskId: string }[] }).tasks.map((t) => t.taskId);
}

/** The answer to a POST /tasks: a 202 with a task (recorded as accepted) or a problem that created nothing. */
async function expectAcceptedOrRefused(
  r: Reply,
  body: string,
  property: string,
): Promise<string | undefined> {
  const what = `POST /tasks ${body.slice(0, 300)}`;
  expect(r.status, describeReply(r, what)).toBeLessThan(500);
  if (r.status === 202) {
    const res = JSON.parse(r.body.toString('utf8')) as { taskId: string; links: { self: string } };
    expect(res.links.self, describeReply(r, what)).toBe(`/tasks/${res.taskId}`);
    known.add(res.taskId);
    if (!accepted.has(res.taskId)) accepted.set(res.taskId, { body, property });
    return res.taskId;
  }
  expectProblem(r, what);
  for (const id of await newestTaskIds()) expect(known, `a refused ${what} left task ${id}`).toContain(id);
  return undefined;
}

/* ------------------------------------------------------------------ arbitraries */

/**
 * Object keys: short strings, Object.prototype's member names, unicode. fast-check's strings come up
 * with `__proto__` by themselves; it gets a weight of its own (in mostly-valid bodies it would
 * otherwise be in almost every one).
 */
const notProto = (k: string) => k !== '__proto__';
const safeKey = fc
  .oneof(
    { weight: 40, arbitrary: fc.string({ maxLength: 12 }) },
    {
      weight: 4,
      arbitrary: fc.constantFrom('constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', ''),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom('goal', 'plan', 'steps', 'inputs', 'policy', 'id', 'agent', 'input'),
    },
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
    { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  )
  .filter(notProto);
const hostileKey = fc.oneof({ weight: 20, arbitrary: safeKey }, fc.constant('__proto__'));
/** Keys around the 256-character limit. */
const longKey = fc.integer({ min: 250, max: 300 }).map((n) => 'k'.repeat(n));

const scalar = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('NaN', 'Infinity', '-0', '1e999', '0x10', '', ' '),
  fc.integer({ min: 0, max: 4096 }).map((n) => 'é'.repeat(n)),
);

/** Any JSON, `__proto__` keys included. */
const { value: hostileJson, object: hostileObject } = jsonWith(hostileKey, scalar);
/** JSON objects without `__proto__` keys (the parts of mostly-valid bodies). */
const { object: plainObject } = jsonWith(safeKey, scalar);

/** A value 1 to `max` levels down, in objects or arrays. */
const nested = (max: number) =>
  fc.tuple(fc.integer({ min: 1, max }), fc.boolean()).map(([depth, arrays]) => {
    let v: unknown = 'bottom';
    for (let i = 0; i < depth; i++) v = arrays ? [v] : { d: v };
    return v;
  });
/** Around the 32-level limit, and past it. */
const deep = nested(40);

const goal = fc.oneof(
  { weight: 20, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }) },
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('', '   ', '\n\t', ' padded goal  ', 'g'.repeat(4000), 'g'.repeat(4001)),
  },
  { weight: 1, arbitrary: fc.constantFrom(5, null, ['goal'], { text: 'goal' }) },
);

/** Step ids: valid ones (names of Object.prototype members among them), near misses. */
const stepId = fc.oneof(
  { weight: 30, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,10}$/) },
  {
    weight: 4,
    arbitrary: fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'),
  },
  fc.constantFrom('', '-a', '_a', 'a'.repeat(64), 'a'.repeat(65), 'a b', 'é', '__proto__', 'a/b', '..'),
  fc.string({ maxLength: 8 }),
);

/** `valid` mostly (so that about half the bodies are valid throughout), sometimes one of `invalid`. */
const mostly = <T>(valid: fc.Arbitrary<T>, ...invalid: unknown[]) =>
  fc.oneof({ weight: 40, arbitrary: valid }, fc.constantFrom(...invalid));
/** An unknown member, rarely (the schemas are strict: it is a 400). */
const rareExtra = fc.oneof({ weight: 30, arbitrary: fc.constant(undefined) }, scalar);

/** A gate's timeout: 1-2 s when valid, so a gate nobody decides ends the step at once. */
const gateTimeout = mostly(fc.integer({ min: 1, max: 2 }), 0, -1, 1.5, '2', 7 * 24 * 3600 + 1, null);

interface RawStep {
  id: string;
  deps: number[];
  wildDeps: unknown[] | undefined;
  fields: Record<string, unknown>;
}

const rawStep: fc.Arbitrary<RawStep> = fc.record({
  id: stepId,
  deps: fc.array(fc.nat(), { maxLength: 3 }),
  wildDeps: fc.oneof(
    { weight: 12, arbitrary: fc.constant(undefined) },
    fc.array(fc.oneof(stepId, fc.constantFrom('<self>', '<next>'), scalar), { minLength: 1, maxLength: 2 }),
  ),
  fields: fc.record(
    {
      agent: mostly(fc.constant('echo'), 'nope', 'Echo', '', 'echo ', 5, null),
      input: fc.oneof(
        { weight: 24, arbitrary: plainObject },
        { weight: 3, arbitrary: nested(28).map((d) => ({ d })) },
        fc.constantFrom([], 'input', null, 5),
      ),
      // Long enough that echo never times out, so no retry waits.
      timeoutSeconds: mostly(
        fc.integer({ min: 10, max: LIMITS.maxStepTimeoutSeconds }),
        0,
        901,
        1.5,
        '30',
        -1,
        null,
      ),
      retry: mostly(
        fc.record(
          {
            maxAttempts: mostly(fc.integer({ min: 1, max: 3 }), 0, 11, 2.5),
            intervalSeconds: mostly(fc.integer({ min: 0, max: 1 }), -1, 301, 0.5),
            backoffRate: mostly(fc.double({ min: 1, max: 2, noNaN: true }), 0.5, 6, '2'),
          },
          { requiredKeys: ['maxAttempts'] },
        ),
        {},
        { maxAttempts: 1, extra: true },
        [],
      ),
      fallbackAgent: mostly(fc.constant('echo'), 'nope', ''),
      approval: mostly(fc.constantFrom('none', 'before'), 'after', true, null),
      approvalTimeoutSeconds: gateTimeout,
      optional: mostly(fc.boolean(), 'yes', 1, null),
      extra: rareExtra,
    },
    { requiredKeys: ['agent'] },
  ),
});

const policy = fc.record(
  {
    allowDegraded: mostly(fc.boolean(), 'true', 0),
    maxConcurrency: mostly(fc.integer({ min: 1, max: 40 }), 0, 41, 2.5, '4'),
    requirePlanApproval: mostly(fc.boolean(), 'false'),
    approvalTimeoutSeconds: gateTimeout,
    onApprovalTimeout: mostly(fc.constantFrom('reject', 'escalate'), 'ignore', ''),
    humanReviewOnFailure: mostly(fc.boolean(), 1),
    maxTokens: mostly(fc.integer({ min: 1, max: 1_000_000 }), 0, -1, 1.5),
    extra: rareExtra,
  },
  { requiredKeys: [] },
);

/** A plan's steps from raw ones: dependencies on earlier steps (a DAG), and sometimes wild ones. */
function planSteps(raw: RawStep[]): Record<string, unknown>[] {
  return raw.map((s, i) => {
    const earlier = raw.slice(0, i).map((e) => e.id);
    const deps = earlier.length ? s.deps.map((d) => earlier[d % earlier.length]) : [];
    const wild = (s.wildDeps ?? []).map((d) => (d === '<self>' ? s.id : d === '<next>' ? raw[i + 1]?.id : d));
    const dependsOn = [...deps, ...wild];
    return { id: s.id, ...s.fields, ...(dependsOn.length ? { dependsOn } : {}) };
  });
}

const hasGate = (body: Record<string, unknown>) => {
  const p = body.policy as Record<string, unknown> | undefined;
  const steps = ((body.plan as { steps?: Record<string, unknown>[] } | undefined)?.steps ?? []) as Record<
    string,
    unknown
  >[];
  return Boolean(
    p?.requirePlanApproval || p?.humanReviewOnFailure || steps.some((s) => s.approval === 'before'),
  );
};

/** Mostly-valid bodies: a goal and a plan of echo steps, every field drawn mostly from its valid range. */
const mostlyValidBody = fc
  .record(
    {
      goal,
      steps: fc.array(rawStep, { minLength: 1, maxLength: 4 }),
      inputs: fc.oneof(
        { weight: 24, arbitrary: plainObject },
        { weight: 3, arbitrary: nested(28).map((d) => ({ d })) },
        fc.constantFrom([], 'inputs', null),
      ),
      policy,
      extra: rareExtra,
      noPlan: fc.boolean().chain((b) => (b ? fc.boolean().map((c) => b && c) : fc.constant(false))),
    },
    { requiredKeys: ['goal', 'steps', 'noPlan'] },
  )
  .map(({ steps, noPlan, extra, ...rest }) => {
    const body: Record<string, unknown> = {
      ...rest,
      // Without a plan the planner makes one from the goal: rarely, its agents are slower.
      ...(noPlan ? {} : { plan: { steps: planSteps(steps) } }),
      ...(extra !== undefined ? { extra } : {}),
    };
    // A gate that nobody decides must end on its own within seconds, not in 24 h.
    if (hasGate(body)) {
      const p = (body.policy ?? {}) as Record<string, unknown>;
      body.policy = { ...p, approvalTimeoutSeconds: p.approvalTimeoutSeconds ?? 1 };
    }
    return JSON.stringify(body);
  });

/** Bodies that are not JSON, or JSON of the wrong shape. */
const rawText = fc.oneof(
  fc.constantFrom(
    '',
    'null',
    'true',
    '0',
    '"goal"',
    '[]',
    '{}',
    '{',
    '{"goal":',
    '{"goal":"a",}',
    "{'goal':'a'}",
    'NaN',
    '{"goal":NaN}',
    '{"goal":"a","inputs":{"n":1e999}}',
    '\uFEFF{"goal":"a"}',
    '{"goal":"a"} trailing',
    '{"goal":"a","goal":5}',
    '{"goal":5,"goal":"a"}',
    '{"goal":"a","__proto__":{"plan":1}}',
    '{"goal":"a","inputs":{"__proto__":{"polluted":true}}}',
    '{"goal":"a","constructor":{"prototype":{}}}',
    '{"goal":"\\ud800"}',
    '{"goal":"a\\u0000b"}',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** A body around the 256 KiB limit (some just under, some just over). */
const nearLimit = fc.integer({ min: -64, max: 64 }).map((delta) => {
  const frame = JSON.stringify({ goal: 'big', inputs: { blob: '' } });
  return JSON.stringify({
    goal: 'big',
    inputs: { blob: 'x'.repeat(LIMITS.maxBodyBytes - frame.length + delta) },
  });
});

const anyBody = fc.oneof(
  { weight: 9, arbitrary: mostlyValidBody },
  { weight: 2, arbitrary: hostileJson.map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 2, arbitrary: hostileObject.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: rawText },
  fc.array(mostlyValidBody, { maxLength: 2 }).map((bodies) => `[${bodies.join(',')}]`),
  deep.map((d) =>
    JSON.stringify({ goal: 'deep', plan: { steps: [{ id: 'a', agent: 'echo', input: { d } }] } }),
  ),
  deep.map((d) =>
    JSON.stringify({ goal: 'deep', inputs: { d }, plan: { steps: [{ id: 'a', agent: 'echo' }] } }),
  ),
  nearLimit,
  fc.tuple(deep, hostileJson, fc.boolean()).map(([d, v, inStep]) => {
    // a `__proto__` key somewhere down a mostly-valid body
    const input = { d, at: objectOf([['__proto__', v]]) };
    return JSON.stringify(
      inStep
        ? { goal: 'proto', plan: { steps: [{ id: 'a', agent: 'echo', input }] } }
        : { goal: 'proto', inputs: input, plan: { steps: [{ id: 'a', agent: 'echo' }] } },
    );
  }),
  fc
    .tuple(longKey, fc.boolean())
    .map(([k, inStep]) =>
      JSON.stringify(
        inStep
          ? { goal: 'long key', plan: { steps: [{ id: 'a', agent: 'echo', input: objectOf([[k, 1]]) }] } }
          : { goal: 'long key', inputs: objectOf([[k, { [k.slice(0, 10)]: k }]]) },
      ),
    ),
);

/* ------------------------------------------------------------------ paths */

/** A path segment: ids, real ids, malformed escapes, dot segments, unicode, very long ones. */
function segment(real: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/) },
    ...(real.length ? [{ weight: 2, arbitrary: fc.constantFrom(...real) }] : []),
    fc.constantFrom('%', '%z', '%zz', '%E0%A4%A', '%00', '%2F', '%2e%2e', '..', '.', '%ff', '%C0%AF', '%25'),
    fc.constantFrom('__proto__', 'constructor', 'prototype', '%5F%5Fproto%5F%5F', 'null', 'undefined'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).map(encodeURIComponent),
    fc
      .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 })
      .map((s) => s.replace(/[^\x21-\x7e]|[/?#]/g, '_')),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }).map((s) =>
      // latin-1 bytes sent raw (node:http allows \x21-\xff in a path)
      s.replace(/[^\x21-\xff]|[/?#]/g, '\xe9'),
    ),
    fc.integer({ min: 120, max: 3000 }).map((n) => 'x'.repeat(n)),
  );
}

/** A query string of the parameters the list routes read, with arbitrary values. */
const queryValue = fc.oneof(
  fc.constantFrom(
    '1',
    '0',
    '-1',
    '100',
    '101',
    '1000',
    '1001',
    '1.5',
    '1e3',
    'NaN',
    'Infinity',
    '',
    '+',
    '%20',
    '9'.repeat(30),
  ),
  fc.constantFrom('open', 'all', 'PENDING', 'DECIDED', 'EXPIRED', 'RUNNING', 'SUCCEEDED', 'bogus'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%E0%A4%A'),
  // garbage cursors (cursors that decode to JSON objects: the list-parameters property below)
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(s).toString('base64url')),
);
/** Cursors: base64url of arbitrary JSON, of keys of the wrong shape or of the other index. */
const craftedCursor = fc
  .oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(
      { pk: 'TASK#t_x', sk: 'META' },
      { pk: 'TASK#t_x', sk: 'META', gsi2pk: 'TASKS', gsi2sk: '2020-01-01T00:00:00.000Z#t_x' },
      { pk: 'TASK#t_x', sk: 'META', gsi1pk: 'STATUS#RUNNING', gsi1sk: 'x' },
      { pk: { S: 'x' } },
      { a: 1 },
      {},
    ),
  )
  .map((k) => Buffer.from(JSON.stringify(k)).toString('base64url'));
const query = fc.option(
  fc
    .array(
      fc.tuple(
        fc.constantFrom('limit', 'cursor', 'after', 'status', 'include', 'exp', 'sig', 'x'),
        queryValue,
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
  { freq: 2, nil: '' },
);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

/** A request to a route template or to arbitrary segments; routes that change a task get made-up ids only. */
function pathRequest(real: string[], realArtifacts: string[]) {
  const seg = segment(real);
  const fresh = segment([]);
  const artifact = segment(realArtifacts);
  const path = fc.oneof(
    seg.map((s) => `/tasks/${s}`),
    seg.map((s) => `/tasks/${s}/events`),
    seg.map((s) => `/tasks/${s}/artifacts`),
    fc.tuple(seg, artifact).map(([s, a]) => `/tasks/${s}/artifacts/${a}`),
    fresh.map((s) => `/tasks/${s}/cancel`),
    fresh.map((s) => `/tasks/${s}/redrive`),
    fresh.map((s) => `/approvals/${s}`),
    fresh.map((s) => `/approvals/${s}/decision`),
    fc.constantFrom('/dead-letters', '/tasks', '/approvals', '/healthz', '/openapi.json', '/', '//tasks'),
    fc.array(seg, { minLength: 1, maxLength: 5 }).map((segs) => `/${segs.join('/')}`),
  );
  return fc.record({
    method: fc.constantFrom(...METHODS),
    path: fc.tuple(path, query).map(([p, q]) => p + q),
    body: fc.option(
      fc.oneof(
        rawText,
        hostileJson.map((v) => JSON.stringify(v) ?? 'null'),
      ),
      { nil: undefined },
    ),
  });
}

/** The path the local API Gateway shim hands the function: the raw request target up to its first "?". */
const routedPath = (path: string) => path.split('?')[0] as string;

/* ------------------------------------------------------------------ headers */

/** What a header value may be on the wire (node:http refuses control characters). */
const headerText = fc
  .string({ unit: 'binary', maxLength: 40 })
  .map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, ' '));

const contentType = fc.option(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/json; charset=utf-16',
        'APPLICATION/JSON',
        ' application/json ',
        'application/json;',
        'application/json, text/plain',
        'application/vnd.baton+json',
        'application/problem+json; charset=utf-8',
        'application/+json',
        'application/jsonpatch',
        'application/json-seq',
        'application/x-json',
        'text/json',
        'text/plain',
        'text/html',
        '',
        ';application/json',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
      ),
    },
    headerText,
  ),
  { freq: 6, nil: undefined },
);

const IDEMPOTENCY_POOL = ['fuzz-key-1', 'fuzz-key-2', 'fuzz-key-3'];
const idempotencyKey = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...IDEMPOTENCY_POOL) },
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
    // 'ключ' as its UTF-8 bytes arrive (a header value is bytes; node:http sends latin-1)
    fc.constantFrom(
      '',
      ' ',
      'k'.repeat(129),
      'key with spaces',
      Buffer.from('ключ').toString('latin1'),
      'a,b',
      'a/b',
    ),
    headerText,
  ),
  { freq: 3, nil: undefined },
);

/**
 * When two bodies are "the same body" for an Idempotency-Key: the request as the API reads it
 * (parsed by its schema, so a goal's surrounding spaces do not count), in canonical JSON.
 */
function requestIdentity(text: string): string {
  try {
    const parsed = CreateTaskBody.safeParse(JSON.parse(text));
    return parsed.success ? canonicalJson(parsed.data) : text;
  } catch {
    return text;
  }
}

/** A few bodies that differ (a key reused with another one is a conflict). */
const HEADER_BODIES = ['one', 'two', 'three'].map((name) =>
  JSON.stringify({ goal: `headers ${name}`, plan: { steps: [{ id: name, agent: 'echo' }] } }),
);

/* ------------------------------------------------------------------ the properties */

describe('the API under arbitrary requests', () => {
  it('answers POST /tasks with arbitrary bodies with 202 or a 4xx problem, and a refused body creates no task', async () => {
    // Prepare
    console.log(`[fuzz] POST /tasks bodies: seed=${SEED} numRuns=${RUNS.bodies}`);
    for (const id of await newestTaskIds()) known.add(id);
    const tally = { accepted: 0, refused: 0 };

    // Act + Assess (per run)
    await fc.assert(
      fc.asyncProperty(anyBody, async (body) => {
        const r = await send('POST', '/tasks', { body, headers: { 'content-type': 'application/json' } });
        if (await expectAcceptedOrRefused(r, body, 'bodies')) tally.accepted++;
        else tally.refused++;
      }),
      { seed: SEED, numRuns: RUNS.bodies },
    );

    // Assess: both outcomes came up (a generator whose bodies are all refused proves little)
    console.log(`[fuzz] POST /tasks bodies: ${tally.accepted} accepted, ${tally.refused} refused`);
    expect(tally.accepted).toBeGreaterThan(RUNS.bodies / 10);
    expect(tally.refused).toBeGreaterThan(RUNS.bodies / 10);
  });

  it('runs every task it accepted to a terminal state, with its goal, steps and step inputs as sent', async () => {
    // Act + Assess
    await expectAcceptedTasksEnded('bodies');
  });

  it('answers arbitrary methods and paths (escapes, dot segments, long ids, unicode) without a 5xx, 4xx as problems', async () => {
    // Prepare
    console.log(`[fuzz] methods and paths: seed=${SEED} numRuns=${RUNS.paths}`);
    const real = [...accepted.keys()].slice(0, 5);
    const realArtifacts: string[] = [];
    for (const id of real) {
      const r = await send('GET', `/tasks/${id}/artifacts`);
      const list = JSON.parse(r.body.toString('utf8')) as { artifacts: { id: string }[] };
      realArtifacts.push(...list.artifacts.slice(0, 2).map((a) => a.id));
    }
    const statuses = new Map<number, number>();

    // Act + Assess (per run)
    await fc.assert(
      fc.asyncProperty(pathRequest(real, realArtifacts), async ({ method, path, body }) => {
        const r = await send(method, path, {
          ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
        });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        const what = `${method} ${path}`;
        if (/[^\x21-\x7e]/.test(path)) {
          // Raw non-ASCII bytes: node's HTTP parser refuses the request line (400, no headers), as
          // API Gateway does; it never reaches the API.
          expect(r.status, describeReply(r, what)).toBe(400);
          return;
        }
        expect(r.status, describeReply(r, what)).toBeLessThan(500);
        if (r.status < 400) return;
        // The approval links answer with pages (a person reads them), everything else with problems.
        const page = /^\/approvals\/[^/]+$/.test(routedPath(path)) && (method === 'GET' || method === 'POST');
        if (page) expect(r.headers['content-type'], describeReply(r, what)).toMatch(/^text\/html/);
        else expectProblem(r, what, { head: method === 'HEAD' });
      }),
      { seed: SEED, numRuns: RUNS.paths },
    );

    // Assess: the requests reached more than one kind of answer
    console.log(`[fuzz] methods and paths: statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(statuses.size).toBeGreaterThan(2);
  });

  // Found by the paths property (BATON_FUZZ_SEED=3, shrunk: GET /\|_): the local API Gateway
  // shim parsed the request target with `new URL`, which reads `/\` as a protocol-relative URL, so
  // `/\|_` threw (500) and `/\tasks` was routed as `/`. The shim now splits the raw target.
  it('answers request targets that start with a backslash with a 4xx problem, not a 500', async () => {
    // Act
    const odd = await send('GET', '/\\|_');
    const bare = await send('GET', '/\\');

    // Assess
    expectProblem(odd, 'GET /\\|_');
    expectProblem(bare, 'GET /\\');
  });

  // Found by this property (seed 100105, shrunk: GET /tasks?cursor=<base64url of
  // {"pk":"TASK#t_x","sk":"META"}>, and a real `next` sent with another status): decodeCursor took
  // any JSON object as the ExclusiveStartKey and DynamoDB's refusal was a 500. It now takes exactly
  // the listing's key attributes (lambdas/adapters/dynamodb/table.ts), else 400.
  it('answers GET /tasks with arbitrary list parameters (limit, status, cursors it did or did not hand out) with 200 or a 400 problem', async () => {
    // Prepare: real cursors of both listings
    console.log(`[fuzz] list parameters: seed=${SEED} numRuns=${RUNS.list}`);
    const real: string[] = [];
    for (const q of ['', '&status=SUCCEEDED', '&status=FAILED']) {
      const r = await send('GET', `/tasks?limit=1${q}`);
      const next = (JSON.parse(r.body.toString('utf8')) as { next?: string }).next;
      if (next) real.push(next);
    }
    const params = fc.record(
      {
        limit: fc.oneof(fc.integer({ min: -5, max: 105 }).map(String), queryValue),
        status: fc.oneof(
          fc.constantFrom('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DEGRADED', 'CANCELLED'),
          queryValue,
        ),
        cursor: fc.oneof(craftedCursor, queryValue, ...(real.length ? [fc.constantFrom(...real)] : [])),
      },
      { requiredKeys: [] },
    );

    // Act + Assess (per run)
    await fc.assert(
      fc.asyncProperty(params, async (p) => {
        const path = `/tasks?${Object.entries(p)
          .map(([k, v]) => `${k}=${v}`)
          .join('&')}`;
        const r = await send('GET', path);
        expect(r.status, describeReply(r, `GET ${path}`)).toBeLessThan(500);
        if (r.status >= 400) expectProblem(r, `GET ${path}`);
        else {
          expect(r.status, describeReply(r, `GET ${path}`)).toBe(200);
          const page = JSON.parse(r.body.toString('utf8')) as { tasks: { taskId: string }[] };
          for (const t of page.tasks) expect(known).toContain(t.taskId);
        }
      }),
      { seed: SEED, numRuns: RUNS.list },
    );
  });

  it('answers POST /tasks with arbitrary content types and Idempotency-Keys without a 5xx, one task per key and body', async () => {
    // Prepare
    console.log(`[fuzz] POST /tasks headers: seed=${SEED} numRuns=${RUNS.headers}`);
    /** Key -> the body and task of its first accepted request. */
    const claims = new Map<string, { body: string; taskId: string }>();
    const tally = { accepted: 0, conflicts: 0, refused: 0 };
    const request = fc.record({
      contentType,
      idempotencyKey,
      body: fc.oneof(
        { weight: 6, arbitrary: fc.nat(HEADER_BODIES.length - 1) },
        fc.constant(-1), // an arbitrary body instead
      ),
      arbitraryBody: anyBody,
      accept: fc.option(fc.constantFrom('text/html', '*/*', 'application/xml', ''), { nil: undefined }),
      contentEncoding: fc.option(fc.constantFrom('gzip', 'br', 'identity'), { nil: undefined }),
    });

    // Act + Assess (per run)
    await fc.assert(
      fc.asyncProperty(request, async (q) => {
        const body = q.body >= 0 ? (HEADER_BODIES[q.body] as string) : q.arbitraryBody;
        const same = requestIdentity(body);
        const headers: Record<string, string> = {
          ...(q.contentType !== undefined ? { 'content-type': q.contentType } : {}),
          ...(q.idempotencyKey !== undefined ? { 'idempotency-key': q.idempotencyKey } : {}),
          ...(q.accept !== undefined ? { accept: q.accept } : {}),
          ...(q.contentEncoding !== undefined ? { 'content-encoding': q.contentEncoding } : {}),
        };
        const r = await send('POST', '/tasks', { body, headers });
        const what = `POST /tasks ${JSON.stringify(headers)} ${body.slice(0, 200)}`;
        expect(r.status, describeReply(r, what)).toBeLessThan(500);
        const claim = q.idempotencyKey !== undefined ? claims.get(q.idempotencyKey) : undefined;
        if (r.status === 409) {
          // A key used before with another body, and the problem names the task that has it.
          tally.conflicts++;
          expectProblem(r, what);
          expect(claim, describeReply(r, what)).toBeDefined();
          expect(claim?.body, describeReply(r, what)).not.toBe(same);
          expect(JSON.parse(r.body.toString('utf8')).taskId, describeReply(r, what)).toBe(claim?.taskId);
          return;
        }
        const taskId = await expectAcceptedOrRefused(r, body, 'headers');
        if (!taskId) {
          tally.refused++;
          return;
        }
        tally.accepted++;
        if (q.idempotencyKey === undefined) return;
        // The same key and body is the same task; a key is never handed a second body.
        if (claim) {
          expect(claim.body, describeReply(r, what)).toBe(same);
          expect(taskId, describeReply(r, what)).toBe(claim.taskId);
        } else claims.set(q.idempotencyKey, { body: same, taskId });
      }),
      { seed: SEED, numRuns: RUNS.headers },
    );

    // Assess
    console.log(`[fuzz] POST /tasks headers: ${JSON.stringify(tally)}`);
    expect(tally.accepted).toBeGreaterThan(0);
    expect(tally.refused).toBeGreaterThan(0);
    await expectAcceptedTasksEnded('headers');
  });

  it('leaves no item of a task it refused, and stays up', async () => {
    // Act: every item of every table that names a task
    const ddb = new DynamoDBClient({});
    const named = new Map<string, string>();
    for (const table of (await ddb.send(new ListTablesCommand({}))).TableNames ?? []) {
      let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
      do {
        const page = await ddb.send(
          new ScanCommand({ TableName: table, ExclusiveStartKey: start, ProjectionExpression: 'pk, taskId' }),
        );
        for (const item of page.Items ?? []) {
          const pk = item.pk?.S ?? '';
          const taskId = item.taskId?.S ?? (pk.startsWith('TASK#') ? pk.slice('TASK#'.length) : undefined);
          if (taskId) named.set(`${table} ${pk}`, taskId);
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }
    const health = await send('GET', '/healthz');

    // Assess
    expect(named.size).toBeGreaterThan(0);
    for (const [item, taskId] of named) expect(known, `${item} names task ${taskId}`).toContain(taskId);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString('utf8'))).toEqual({ ok: true });
  });
});

/** Waits for the tasks one property accepted, one after another, and checks each against what was sent. */
async function expectAcceptedTasksEnded(property: string): Promise<void> {
  const tasks = [...accepted].filter(([, a]) => a.property === property);
  for (const [taskId, { body }] of tasks) {
    const view = await h.waitFor(taskId, TERMINAL, TASK_TIMEOUT_MS);
    const sent = JSON.parse(body) as {
      goal: string;
      plan?: { steps: { id: string; agent: string; input?: unknown }[] };
    };
    const context = `task ${taskId} from ${body.slice(0, 300)}`;
    expect(view.goal, context).toBe(sent.goal.trim());
    if (!sent.plan) continue;
    expect(view.plan.steps.map((s) => s.id).sort(), context).toEqual(sent.plan.steps.map((s) => s.id).sort());
    for (const step of view.plan.steps) {
      const spec = sent.plan.steps.find((s) => s.id === step.id);
      expect(step.agent, context).toBe(spec?.agent);
      // echo answers with its input: what the step got is what was sent.
      if (step.status === 'SUCCEEDED' && step.agent === 'echo')
        expect((step.output as { input?: unknown }).input, context).toEqual(spec?.input ?? {});
    }
  }
}
