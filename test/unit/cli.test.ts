/**
 * The CLI's output for people (lib/cli/format.ts) and what it decides before calling the API
 * (lib/cli/main.ts: usage errors, the submit body, auth). Against the API: test/integration/cli.test.ts.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/errors.js';
import {
  duration,
  eventRows,
  failureReason,
  problemLines,
  size,
  Transitions,
  table,
  taskLines,
} from '../../lib/cli/format.js';
import { resolveAuth, runCli, submitBody, USAGE } from '../../lib/cli/main.js';
import type { TaskEvent, TaskView } from '../../lib/client/index.js';

const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 10, 0, s)).toISOString();

function event(seq: number, type: string, stepId: string | undefined, data: object, s = seq): TaskEvent {
  return {
    id: `r1.${type}.${stepId ?? '-'}.${seq}`,
    seq,
    at: at(s),
    type,
    taskId: 't_1',
    traceId: 'tr',
    ...(stepId ? { stepId } : {}),
    data,
  } as TaskEvent;
}

const view: TaskView = {
  taskId: 't_1',
  goal: 'Brief on solar',
  status: 'FAILED',
  createdAt: at(0),
  updatedAt: at(5),
  traceId: 'tr',
  plan: {
    source: 'explicit',
    steps: [
      {
        id: 'a',
        agent: 'research',
        dependsOn: [],
        status: 'SUCCEEDED',
        attempts: 1,
        startedAt: at(0),
        endedAt: '2026-12-02T10:00:01.200Z',
        summary: 'found 3 facts',
      },
      {
        id: 'write',
        agent: 'writing',
        dependsOn: ['a'],
        status: 'FAILED',
        attempts: 3,
        startedAt: at(2),
        endedAt: at(5),
        error: { name: 'Baton.AgentFailed', message: 'model refused' },
      },
    ],
  },
  error: { name: 'Baton.TaskFailed', message: '1 required step failed' },
};

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (c: string | Uint8Array) => out.push(String(c)),
      stderr: (c: string) => err.push(c),
      env: {},
      cwd: mkdtempSync(join(tmpdir(), 'baton-cli-unit-')),
    },
  };
}

describe('CLI output', () => {
  it('formats durations and sizes for people', () => {
    // Act + Assess
    expect([duration(850), duration(1200), duration(123_000), duration(3_900_000)]).toEqual([
      '850ms',
      '1.2s',
      '2m03s',
      '1h05m',
    ]);
    expect([size(512), size(1536), size(2 * 1024 * 1024)]).toEqual(['512 B', '1.5 KiB', '2.0 MiB']);
  });

  it('aligns columns two spaces apart', () => {
    // Act
    const lines = table([
      ['a', 'research', 'SUCCEEDED'],
      ['write', 'writing', 'FAILED'],
    ]);
    // Assess
    expect(lines).toEqual(['a      research  SUCCEEDED', 'write  writing   FAILED']);
  });

  it('shows a task as its status line and one line per step', () => {
    // Act
    const lines = taskLines(view);
    // Assess
    expect(lines).toEqual([
      'task t_1  FAILED  5.0s',
      'goal  Brief on solar',
      'plan  2 steps (explicit)',
      'step a      research  SUCCEEDED  1 attempt   1.2s  found 3 facts',
      'step write  writing   FAILED     3 attempts  3.0s  Baton.AgentFailed: model refused',
      'error  Baton.TaskFailed: 1 required step failed',
    ]);
    expect(failureReason(view)).toBe(
      'task t_1 ended FAILED; Baton.TaskFailed: 1 required step failed; step write failed: Baton.AgentFailed: model refused',
    );
  });

  it('turns the audit trail into step transitions while following', () => {
    // Prepare
    const t = new Transitions();
    const trail = [
      event(1, 'TaskSubmitted', undefined, { goal: 'g', explicitPlan: true }),
      event(2, 'PlanCreated', undefined, {
        source: 'explicit',
        steps: [
          { id: 'a', agent: 'research', dependsOn: [] },
          { id: 'bb', agent: 'writing', dependsOn: ['a'] },
        ],
      }),
      event(3, 'StepWaiting', 'bb', { waitingFor: ['a'] }),
      event(4, 'StepStarted', 'a', { attempt: 1, agent: 'research', run: 1 }),
      event(5, 'ToolCalled', 'a', {
        call: 1,
        tool: 'search',
        argsDigest: 'x',
        durationMs: 3,
        outcome: 'ok',
        startedAt: at(5),
      }),
      event(6, 'StepSucceeded', 'a', { attempt: 1, agent: 'research', summary: 'found it', artifacts: [] }),
      event(7, 'ApprovalRequested', 'bb', {
        approvalId: 'ap_1',
        kind: 'step',
        round: 1,
        escalation: false,
        requestedAt: at(7),
        expiresAt: at(8),
        timeoutSeconds: 86400,
        onTimeout: 'reject',
      }),
      event(8, 'ApprovalDecided', 'bb', {
        approvalId: 'ap_1',
        kind: 'step',
        round: 1,
        decision: 'approve',
        approver: 'api-key',
        via: 'api',
        at: at(8),
        comment: 'ok',
      }),
      event(9, 'StepStarted', 'bb', { attempt: 1, agent: 'writing', run: 1 }),
      event(10, 'StepAttemptFailed', 'bb', {
        attempt: 1,
        phase: 'agent',
        error: { name: 'Error', message: 'boom' },
        willRetry: true,
        retryInSeconds: 1,
        nextAttempt: 2,
        reason: 'r',
      }),
      event(12, 'StepFailed', 'bb', { attempts: 2, error: { name: 'Error', message: 'boom' }, reason: 'r' }),
    ];
    // Act
    const lines = trail.flatMap((e) => t.lines(e));
    // Assess
    expect(lines).toEqual([
      'plan  2 steps (explicit)',
      'step bb  writing   WAITING            for a',
      'step a   research  RUNNING            attempt 1',
      'step a   research  SUCCEEDED          1 attempt  2.0s  found it',
      'step bb  writing   AWAITING_APPROVAL  approval ap_1 (step): baton approve ap_1 | baton reject ap_1',
      'approval ap_1 approve by api-key: ok',
      'step bb  writing   RUNNING            attempt 1',
      'step bb  writing   ATTEMPT_FAILED     attempt 1  Error: boom  retry in 1.0s',
      'step bb  writing   FAILED             2 attempts  3.0s  Error: boom',
    ]);
  });

  it('lists events one per line with a short description', () => {
    // Act
    const lines = eventRows([
      event(1, 'StepStarted', 'a', { attempt: 1, agent: 'echo', run: 1 }),
      event(2, 'StepSkipped', 'b', {
        reason: 'r',
        failedDependency: 'a',
        error: { name: 'x', message: 'y' },
      }),
    ]);
    // Assess
    expect(lines).toEqual([
      `1  ${at(1)}  StepStarted  a  echo attempt 1`,
      `2  ${at(2)}  StepSkipped  b  dependency a failed`,
    ]);
  });

  it('prints problem documents, API Gateway messages and anything else readably', () => {
    // Act + Assess
    expect(
      problemLines(400, 'Bad Request', {
        type: 't',
        title: 'Invalid request',
        status: 400,
        detail: 'The plan is not valid.',
        issues: [{ path: 'plan.steps[0].id', message: 'is required' }],
      }),
    ).toEqual(['400 Invalid request: The plan is not valid.', '  - plan.steps[0].id: is required']);
    expect(problemLines(403, 'Forbidden', { message: 'Forbidden' })).toEqual(['403 Forbidden: Forbidden']);
    expect(problemLines(502, 'Bad Gateway', '<html>')).toEqual(['502 Bad Gateway']);
  });
});

describe('CLI command line', () => {
  it('documents its exit codes in --help', async () => {
    // Prepare
    const c = capture();
    // Act
    const code = await runCli(['--help'], c.io);
    // Assess
    expect(code).toBe(EXIT.ok);
    expect(c.out.join('')).toBe(`${USAGE}\n`);
    for (const [n, what] of [
      [0, 'done'],
      [1, 'DEGRADED, FAILED or CANCELLED'],
      [2, 'usage'],
      [3, 'refused'],
      [4, 'unreachable'],
    ] as const) {
      expect(USAGE).toMatch(new RegExp(`^  ${n}  .*${what}`, 'm'));
    }
  });

  it('answers usage mistakes with exit 2 and a message, before any request', async () => {
    // Prepare
    const c = capture();
    // Act
    const codes = [
      await runCli([], c.io),
      await runCli(['status'], c.io),
      await runCli(['approve'], c.io),
      await runCli(['list', '--limit', 'many'], c.io),
      await runCli(['list', '--auth', 'kerberos'], c.io),
      await runCli(['list', '--auth', 'sigv4', '--url', 'http://127.0.0.1:1'], c.io),
      await runCli(['status', 't_1', '--no-such-option'], c.io),
    ];
    // Assess
    expect(codes).toEqual([2, 2, 2, 2, 2, 2, 2]);
    const err = c.err.join('');
    expect(err).toContain('baton: status needs a task id');
    expect(err).toContain('baton: approve needs an approval id');
    expect(err).toContain('--limit must be a positive integer (got "many")');
    expect(err).toContain('--auth must be bearer, sigv4 or none (got "kerberos")');
    expect(err).toContain('--auth sigv4 needs a region');
    expect(err).toContain("Unknown option '--no-such-option'");
  });

  it('builds the submit body from --file ({ goal?, plan, inputs?, policy? } or a bare plan) and --goal', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'baton-cli-unit-'));
    const steps = [{ id: 'a', agent: 'echo' }];
    writeFileSync(
      join(dir, 'task.json'),
      JSON.stringify({
        goal: 'from file',
        plan: { steps },
        inputs: { x: 1 },
        policy: { allowDegraded: true },
      }),
    );
    writeFileSync(join(dir, 'bare.json'), JSON.stringify({ steps }));
    // Act
    const full = submitBody({ file: 'task.json' }, dir);
    const overridden = submitBody({ file: 'task.json', goal: 'from flag' }, dir);
    const bare = submitBody({ file: 'bare.json', goal: 'g' }, dir);
    // Assess
    expect(full).toEqual({
      goal: 'from file',
      plan: { steps },
      inputs: { x: 1 },
      policy: { allowDegraded: true },
    });
    expect(overridden.goal).toBe('from flag');
    expect(bare).toEqual({ goal: 'g', plan: { steps } });
    expect(() => submitBody({ file: 'bare.json' }, dir)).toThrow(/submit needs a goal/);
  });

  it('picks the auth: a bearer key from the env or the data dir, SigV4 with a region from the URL', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'baton-cli-unit-'));
    const data = join(dir, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'api-key'), 'from-file\n');
    const url = 'https://abc123.execute-api.eu-central-1.amazonaws.com';
    // Act + Assess
    expect(resolveAuth({}, { BATON_API_KEY: 'from-env' }, dir, url)).toEqual({
      type: 'bearer',
      token: 'from-env',
    });
    expect(resolveAuth({}, { BATON_DATA_DIR: 'data' }, dir, url)).toEqual({
      type: 'bearer',
      token: 'from-file',
    });
    expect(resolveAuth({}, {}, dir, url)).toEqual({ type: 'none' });
    expect(resolveAuth({ auth: 'sigv4' }, {}, dir, url)).toEqual({ type: 'sigv4', region: 'eu-central-1' });
    expect(resolveAuth({}, { BATON_AUTH: 'sigv4', AWS_REGION: 'us-west-2' }, dir, url)).toEqual({
      type: 'sigv4',
      region: 'us-west-2',
    });
  });
});

describe('baton status --follow', () => {
  it('reads on after the end while the trail holds events back', async () => {
    // Prepare: an ended task whose trail holds 2 and 3 back for the first two asks (as while a
    // number before 3 was still being written)
    const done: TaskView = { ...view, status: 'SUCCEEDED', error: undefined };
    const trail = [
      event(1, 'TaskSubmitted', undefined, { goal: 'g', explicitPlan: true }),
      event(2, 'StepSucceeded', 'a', { attempt: 1, agent: 'research', summary: 'x', artifacts: [] }),
      event(3, 'TaskSucceeded', undefined, {}),
    ];
    let asks = 0;
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.pathname === '/tasks/t_1') return res.end(JSON.stringify(done));
      const after = Number(url.searchParams.get('after') ?? 0);
      asks += 1;
      const events = trail.filter((e) => e.seq > after);
      const page = asks <= 2 ? { events: events.filter((e) => e.seq < 2), heldBack: true } : { events };
      return res.end(JSON.stringify(page));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = capture();
    const { port } = server.address() as AddressInfo;
    let code: number;
    try {
      // Act
      code = await runCli(['status', 't_1', '--follow', '--json'], {
        ...c.io,
        env: { BATON_URL: `http://127.0.0.1:${port}`, BATON_AUTH: 'none' },
        pollMs: 5,
      });
    } finally {
      server.close();
    }
    // Assess: the held-back events were printed too, after the task had ended
    expect(code).toBe(EXIT.ok);
    const printed = c.out
      .flatMap((l) => l.split('\n'))
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(printed.filter((p) => p.event).map((p) => p.event.seq)).toEqual([1, 2, 3]);
    expect(asks).toBe(3);
  });
});
