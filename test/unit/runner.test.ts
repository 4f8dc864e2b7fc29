/**
 * The step runner (lambdas/agents/runner.ts) against the in-memory store and an in-memory bucket:
 * what it sends an agent, and that it checks what an agent answers before writing any of it.
 * Agents are untrusted, so most cases here are answers a hostile agent could give.
 */
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { serveAgentRequest } from '../../lambdas/agents/agent-side.js';
import { ALL_CAPABILITIES } from '../../lambdas/agents/capabilities.js';
import type { AgentModule } from '../../lambdas/agents/define.js';
import { type AgentRequest, uploadKey } from '../../lambdas/agents/protocol.js';
import { resolveAgentSettings } from '../../lambdas/agents/registry.js';
import { AgentInvocationError, type RunnerDeps, runStep } from '../../lambdas/agents/runner.js';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { Events } from '../../lambdas/core/events.js';
import { completeStep } from '../../lambdas/orchestrator/steps.js';
import { MemoryBucket } from '../fakes/memory-bucket.js';
import { MemoryStore } from '../fakes/memory-store.js';

const TASK = 't_runner';
const TRACE = 'trace-runner';
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

let store: MemoryStore;
let bucket: MemoryBucket;
let sent: AgentRequest[];

async function prepareTask(
  steps: { id: string; agent: string; dependsOn?: string[]; fallbackAgent?: string }[],
) {
  const at = new Date().toISOString();
  await store.createTask(
    {
      taskId: TASK,
      goal: 'runner test',
      createdAt: at,
      traceId: 'trace-runner',
      status: 'RUNNING',
      updatedAt: at,
      policy: { allowDegraded: false },
      run: 1,
      requestHash: 'h',
    },
    {},
  );
  await store.putPlan(TASK, {
    source: 'explicit',
    steps: steps.map((s) => ({
      input: {},
      dependsOn: [],
      timeoutSeconds: 60,
      retry: { maxAttempts: 1, intervalSeconds: 1, backoffRate: 2 },
      approval: 'none',
      optional: false,
      ...s,
    })),
  });
}

/** Runner deps whose agent is `answer` (an in-process agent side, or a raw answer). */
function deps(answer: (req: AgentRequest) => Promise<unknown>): RunnerDeps {
  return {
    store,
    artifacts: bucket,
    invokeAgent: async (_fn, req) => {
      sent.push(req);
      return answer(JSON.parse(JSON.stringify(req)) as AgentRequest);
    },
    // the real completion (the orchestrator's), on the same store; released gates are recorded
    complete: async (req, known) => {
      await completeStep(
        {
          store,
          workflow: {
            // a token in `refused` is answered as Step Functions answers a stale one
            succeed: async (token: string, output: unknown) =>
              !refused.has(token) && outputs.set(token, output) && released.push(token) > 0,
            fail: async (token: string) => !refused.has(token) && released.push(token) > 0,
          } as never,
          agentFunctions: {},
        },
        req,
        known,
      );
    },
  };
}
let released: string[] = [];
/** What each released token was answered with (SendTaskSuccess's output). */
let outputs: Map<string, unknown>;
let refused: Set<string>;
const agentSide = (name: string, agent: AgentModule) => (req: AgentRequest) =>
  serveAgentRequest(name, agent, req, {
    fetch: bucket.fetch,
    runtime: {
      settingsFor: () => resolveAgentSettings(name),
      defaultModel: () => ({ provider: 'offline' }),
      capabilities: ALL_CAPABILITIES,
    },
  });
const invocation = { agentFunction: 'fn-a', taskId: TASK, run: 1, stepId: 'a', attempt: 1 };
/** A tool call record as an agent reports it (its audit), fields overridden as a test needs. */
const toolCall = (call: number, data: Record<string, unknown> = {}) => ({
  type: 'ToolCalled',
  data: { call, tool: 'http', argsDigest: 'x', durationMs: 1, outcome: 'ok', startedAt: 'x', ...data },
});
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: Error) => err,
  );

beforeEach(() => {
  store = new MemoryStore();
  bucket = new MemoryBucket();
  sent = [];
  released = [];
  outputs = new Map();
  refused = new Set();
});

describe('the step runner', () => {
  it('runs the agent on its function and writes what it made: artifacts, their events, the attempt', async () => {
    // Prepare
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    const echo: AgentModule = async (input) => ({
      summary: `done ${input.stepId}`,
      output: { ok: true },
      artifacts: [
        { name: 'a.txt', contentType: 'text/plain', body: 'hello' },
        { name: 'a.bin', contentType: 'application/octet-stream', body: { base64: 'AAEC' } },
      ],
    });

    // Act
    const result = await runStep(deps(agentSide('echo', echo)), invocation);

    // Assess
    expect(result).toEqual({ stepId: 'a', attempt: 1, agent: 'echo' });
    const attempt = await store.getSucceeded(TASK, 1, 'a');
    expect(attempt?.output).toEqual({ ok: true });
    expect(attempt?.artifacts.map((a) => [a.name, a.size, a.sha256])).toEqual([
      ['a.txt', 5, sha('hello')],
      ['a.bin', 3, sha(Buffer.from([0, 1, 2]))],
    ]);
    const types = (await store.allEvents(TASK)).map((e) => e.type);
    expect(types).toEqual(['StepStarted', 'ArtifactStored', 'ArtifactStored', 'StepSucceeded']);
    expect((await store.getResults(TASK)).get('a')?.status).toBe('SUCCEEDED');
  });

  it('completes the step itself: its result, and the gate of a parked dependent released', async () => {
    // Prepare: b depends on a and is parked on its gate
    await prepareTask([
      { id: 'a', agent: 'echo' },
      { id: 'b', agent: 'echo', dependsOn: ['a'] },
    ]);
    await store.putToken(TASK, 1, 'b', 'token-b');
    const echo: AgentModule = async () => ({ summary: 'ok' });

    // Act
    await runStep(deps(agentSide('echo', echo)), invocation);

    // Assess
    expect((await store.getResults(TASK)).get('a')).toMatchObject({ status: 'SUCCEEDED', attempt: 1 });
    expect(released).toEqual(['token-b']);
  });

  it('releases a dependent whose gate it found parked before its agent ran, without reading that gate again', async () => {
    // Prepare: b and c wait on a; c also on d, which has succeeded; every gate look is counted
    await prepareTask([
      { id: 'a', agent: 'echo' },
      { id: 'd', agent: 'echo' },
      { id: 'b', agent: 'echo', dependsOn: ['a'] },
      { id: 'c', agent: 'echo', dependsOn: ['a', 'd'] },
    ]);
    await store.putResult(TASK, { stepId: 'd', run: 1, status: 'SUCCEEDED', agent: 'echo', at: 'x' });
    await store.putToken(TASK, 1, 'b', 'token-b', true);
    await store.putToken(TASK, 1, 'c', 'token-c', true);
    let looks = 0;
    const look = store.getResultsAndToken.bind(store);
    store.getResultsAndToken = async (...a) => {
      looks++;
      return look(...a);
    };

    // Act
    await runStep(deps(agentSide('echo', async () => ({ summary: 'ok' }))), invocation);

    // Assess: both released, from the runner's one read before the agent
    expect(released.sort()).toEqual(['token-b', 'token-c']);
    expect(looks).toBe(0);
  });

  it('looks again at a dependent whose gate parked with a new token while the agent ran, and sends it no reserved number', async () => {
    // Prepare: b parked with token-1; while a's agent runs, b's AwaitDependencies is retried and
    // parks with token-2, so Step Functions refuses token-1
    await prepareTask([
      { id: 'a', agent: 'echo' },
      { id: 'b', agent: 'echo', dependsOn: ['a'] },
    ]);
    await store.putToken(TASK, 1, 'b', 'token-1', true);
    const agent: AgentModule = async () => {
      refused.add('token-1');
      await store.putToken(TASK, 1, 'b', 'token-2', true);
      return { summary: 'ok' };
    };

    // Act
    await runStep(deps(agentSide('echo', agent)), invocation);

    // Assess: the new token released, not lost, by the second look: with no StepStarted number
    // (the one reserved for b in a's completion stays a gap)
    expect(released).toEqual(['token-2']);
    expect(outputs.get('token-2')).toEqual({ action: 'run' });
  });

  it('reads a dependent found not ready before the agent again when the result is written', async () => {
    // Prepare: c waits on a and d; d succeeds while a's agent runs
    await prepareTask([
      { id: 'a', agent: 'echo' },
      { id: 'd', agent: 'echo' },
      { id: 'c', agent: 'echo', dependsOn: ['a', 'd'] },
    ]);
    await store.putToken(TASK, 1, 'c', 'token-c', true);
    const agent: AgentModule = async () => {
      await store.putResult(TASK, { stepId: 'd', run: 1, status: 'SUCCEEDED', agent: 'echo', at: 'x' });
      return { summary: 'ok' };
    };

    // Act
    await runStep(deps(agentSide('echo', agent)), invocation);

    // Assess
    expect(released).toEqual(['token-c']);
  });

  it('does not run the agent again for a step whose StepSucceeded exists; it finishes the completion', async () => {
    // Prepare: attempt 1 ran, its StepSucceeded was written, then the runner stopped before the result
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    const { first } = await store.reserveSeqs(TASK, 1);
    await store.appendEvents(
      [
        Events.stepSucceeded(
          { taskId: TASK, traceId: TRACE, run: 1, stepId: 'a' },
          { attempt: 1, agent: 'echo', summary: 'made before', artifacts: [] },
        ),
      ],
      { firstSeq: first },
    );
    const echo: AgentModule = async () => ({ summary: 'must not run' });

    // Act
    const result = await runStep(deps(agentSide('echo', echo)), invocation);

    // Assess
    expect(result).toMatchObject({ alreadyDone: true });
    expect(sent).toEqual([]);
    expect((await store.getResults(TASK)).get('a')).toMatchObject({
      status: 'SUCCEEDED',
      summary: 'made before',
      firstSeq: first,
    });
    expect((await store.allEvents(TASK)).map((e) => e.type)).toEqual(['StepSucceeded']);
  });

  it('does not run the agent again for a step whose result exists; its StepSucceeded lands in its numbered place', async () => {
    // Prepare: attempt 1's result was written with the numbers reserved for its completion, then
    // the runner stopped before the StepSucceeded; another event was numbered meanwhile
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    const { first } = await store.reserveSeqs(TASK, 1);
    await store.putResult(TASK, {
      stepId: 'a',
      run: 1,
      status: 'SUCCEEDED',
      attempt: 1,
      agent: 'echo',
      summary: 'made before',
      artifacts: [],
      at: new Date().toISOString(),
      firstSeq: first,
    });
    await store.appendEvent(
      Events.stepStarted(
        { taskId: TASK, traceId: TRACE, run: 1, stepId: 'z', attempt: 1 },
        {
          attempt: 1,
          agent: 'echo',
          run: 1,
        },
      ),
    );
    const echo: AgentModule = async () => ({ summary: 'must not run' });

    // Act
    const result = await runStep(deps(agentSide('echo', echo)), invocation);

    // Assess
    expect(result).toMatchObject({ alreadyDone: true });
    expect(sent).toEqual([]);
    const trail = await store.allEvents(TASK);
    expect(trail.map((e) => [e.type, e.stepId])).toEqual([
      ['StepSucceeded', 'a'],
      ['StepStarted', 'z'],
    ]);
    expect(trail[0]?.seq).toBe(first);
    if (trail[0]?.type === 'StepSucceeded') expect(trail[0].data.summary).toBe('made before');
  });

  it('sends the hydrated input, presigned GETs of exactly the upstream artifacts and the attempt’s upload slots', async () => {
    // Prepare: step a made two artifacts; step b depends on a; step c (not b's dependency) made one
    await prepareTask([
      { id: 'a', agent: 'echo' },
      { id: 'c', agent: 'echo' },
      { id: 'b', agent: 'echo', dependsOn: ['a'] },
    ]);
    const maker: AgentModule = async (input) => ({
      summary: 'made',
      artifacts: [{ name: `${input.stepId}.txt`, contentType: 'text/plain', body: `from ${input.stepId}` }],
    });
    for (const stepId of ['a', 'c']) {
      await runStep(deps(agentSide('echo', maker)), { ...invocation, stepId });
      const done = await store.getSucceeded(TASK, 1, stepId);
      await store.putResult(TASK, {
        stepId,
        run: 1,
        status: 'SUCCEEDED',
        attempt: 1,
        agent: 'echo',
        summary: done?.summary ?? '',
        artifacts: done?.artifacts ?? [],
        at: new Date().toISOString(),
      });
    }
    const reader: AgentModule = async (input, ctx) => {
      const [ref] = input.upstream[0]?.artifacts ?? [];
      const text = ref ? Buffer.from(await ctx.readArtifact(ref)).toString('utf8') : '';
      return { summary: text };
    };

    // Act
    await runStep(deps(agentSide('echo', reader)), { ...invocation, stepId: 'b' });

    // Assess
    const req = sent.at(-1) as AgentRequest;
    expect(req.input.upstream.map((u) => u.stepId)).toEqual(['a']);
    expect(req.readable.map((r) => r.url)).toEqual(['mem://get/tasks/t_runner/steps/a/1/a.txt']);
    expect(req.uploads).toHaveLength(50);
    expect(req.uploads[0]).toBe(`mem://put/${uploadKey(TASK, 'b', 1, 0)}`);
    expect((await store.getSucceeded(TASK, 1, 'b'))?.summary).toBe('from a');
  });

  it('stores a large artifact from the agent’s upload slot, with the size and sha256 it computed itself', async () => {
    // Prepare: 1 MiB, over the inline limit
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    const body = Buffer.alloc(1024 * 1024, 7);
    const big: AgentModule = async () => ({
      summary: 'big',
      artifacts: [
        {
          name: 'big.bin',
          contentType: 'application/octet-stream',
          body: { base64: body.toString('base64') },
        },
      ],
    });

    // Act
    await runStep(deps(agentSide('echo', big)), invocation);

    // Assess
    const [art] = await store.listArtifacts(TASK);
    expect(art).toMatchObject({
      name: 'big.bin',
      size: body.byteLength,
      sha256: sha(body),
      s3Key: uploadKey(TASK, 'a', 1, 0),
    });
  });

  it('writes the agent’s tool and model call records as events of this attempt only, whatever the records claim', async () => {
    // Prepare: an answer whose record claims another attempt
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    const record = toolCall(1, { attempt: 9, startedAt: new Date().toISOString() });

    // Act
    await runStep(
      deps(async () => ({ ok: true, summary: 's', artifacts: [], audit: [record] })),
      invocation,
    );

    // Assess
    const call = (await store.allEvents(TASK)).find((e) => e.type === 'ToolCalled');
    expect(call).toMatchObject({
      taskId: TASK,
      stepId: 'a',
      id: 'r1.ToolCalled.a.1.1',
      data: { attempt: 1 },
    });
  });

  it.each([
    ['an answer outside the protocol', { hello: 'world' }],
    [
      'an audit record of another event type',
      { ok: true, summary: 's', artifacts: [], audit: [{ type: 'ApprovalDecided', data: {} }] },
    ],
    [
      'two artifacts with one name',
      {
        ok: true,
        summary: 's',
        artifacts: [
          { name: 'x.txt', contentType: 'text/plain', body: 'a' },
          { name: 'x.txt', contentType: 'text/plain', body: 'b' },
        ],
        audit: [],
      },
    ],
    [
      'base64 that is not',
      {
        ok: true,
        summary: 's',
        artifacts: [{ name: 'x', contentType: 'a/b', body: { base64: 'a$b=' } }],
        audit: [],
      },
    ],
    [
      'an upload slot nothing was written to',
      { ok: true, summary: 's', artifacts: [{ name: 'x', contentType: 'a/b', upload: 3 }], audit: [] },
    ],
    ['an output that is not JSON data', { ok: true, summary: 7, artifacts: [], audit: [] }],
  ])('refuses %s as a contract violation, and writes no artifact or attempt', async (_what, answer) => {
    // Prepare
    await prepareTask([{ id: 'a', agent: 'echo' }]);

    // Act
    const err = await failureOf(
      runStep(
        deps(async () => answer),
        invocation,
      ),
    );

    // Assess
    expect(err?.name).toBe(ErrorNames.ContractViolation);
    expect(await store.listArtifacts(TASK)).toEqual([]);
    expect(await store.getSucceeded(TASK, 1, 'a')).toBeUndefined();
  });

  it('numbers a succeeded attempt’s call records in its completion’s one reservation, between its start and its StepSucceeded', async () => {
    // Prepare: an answer with two call records and an artifact; every reservation is counted
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    const reservations: number[] = [];
    const reserve = store.reserveSeqs.bind(store);
    store.reserveSeqs = async (taskId, count) => {
      reservations.push(count);
      return reserve(taskId, count);
    };

    // Act
    await runStep(
      deps(async () => ({
        ok: true,
        summary: 's',
        artifacts: [{ name: 'a.txt', contentType: 'text/plain', body: 'hi' }],
        audit: [toolCall(1), toolCall(2)],
      })),
      invocation,
    );

    // Assess: the start's reservation, then one for the two records, the artifact and the success,
    // numbered in that order with no gap
    const trail = await store.allEvents(TASK);
    const own = trail.filter((e) => e.stepId === 'a');
    expect(own.map((e) => e.type)).toEqual([
      'StepStarted',
      'ToolCalled',
      'ToolCalled',
      'ArtifactStored',
      'StepSucceeded',
    ]);
    expect(reservations).toEqual([1, 4]);
    const seqs = own.map((e) => e.seq);
    expect(seqs.slice(1)).toEqual([1, 2, 3, 4].map((i) => (seqs[0] as number) + i));
  });

  it('keeps the call records of an attempt whose artifact fails its read-back', async () => {
    // Prepare: the answer names an upload slot nothing was uploaded to
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    const record = {
      type: 'ModelCalled',
      data: {
        call: 1,
        model: 'offline',
        argsDigest: 'x',
        tools: [],
        durationMs: 1,
        outcome: 'ok',
        usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
        stepTokensUsed: 2,
        startedAt: 'x',
      },
    };

    // Act
    const err = await failureOf(
      runStep(
        deps(async () => ({
          ok: true,
          summary: 's',
          artifacts: [{ name: 'big.bin', contentType: 'application/octet-stream', upload: 2 }],
          audit: [record],
        })),
        invocation,
      ),
    );

    // Assess: a contract violation, the call in the trail, no success
    expect(err?.name).toBe(ErrorNames.ContractViolation);
    const types = (await store.allEvents(TASK)).map((e) => e.type);
    expect(types).toEqual(['StepStarted', 'ModelCalled']);
    expect(await store.getSucceeded(TASK, 1, 'a')).toBeUndefined();
  });

  it('lets an agent fail only with the names an agent may give: anything else is a retryable AgentFailed', async () => {
    // Prepare
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    const failing = (name: string) =>
      deps(async () => ({ ok: false, error: { name, message: 'no' }, audit: [] }));

    // Act
    const nonRetryable = await failureOf(runStep(failing(ErrorNames.NonRetryable), invocation));
    const cancelled = await failureOf(runStep(failing(ErrorNames.Cancelled), invocation));
    const rejected = await failureOf(runStep(failing(ErrorNames.ApprovalRejected), invocation));

    // Assess
    expect(nonRetryable?.name).toBe(ErrorNames.NonRetryable);
    expect([cancelled?.name, rejected?.name]).toEqual([ErrorNames.AgentFailed, ErrorNames.AgentFailed]);
    expect(cancelled?.message).toContain(ErrorNames.Cancelled);
  });

  it('reports an agent function that crashed as a retryable AgentFailed naming Lambda’s error type', async () => {
    // Prepare
    await prepareTask([{ id: 'a', agent: 'echo' }]);

    // Act
    const err = await failureOf(
      runStep(
        deps(async () => {
          throw new AgentInvocationError(
            'Sandbox.Timedout',
            'The agent function fn-a failed: Sandbox.Timedout: Task timed out',
          );
        }),
        invocation,
      ),
    );

    // Assess
    expect(err?.name).toBe(ErrorNames.AgentFailed);
    expect(err?.message).toContain('Sandbox.Timedout');
  });

  it('keeps nothing an agent made when its task was cancelled while it ran', async () => {
    // Prepare: the task is cancelled while the agent works
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    const slow: AgentModule = async () => {
      await store.appendEvent(
        Events.taskCancelled(
          { taskId: TASK, traceId: 'trace-runner', run: 1 },
          { run: 1, previousStatus: 'RUNNING' },
        ),
      );
      return {
        summary: 'late',
        artifacts: [{ name: 'late.txt', contentType: 'text/plain', body: 'too late' }],
      };
    };

    // Act
    const err = await failureOf(runStep(deps(agentSide('echo', slow)), invocation));
    const again = await failureOf(runStep(deps(agentSide('echo', slow)), { ...invocation, attempt: 2 }));

    // Assess: cancelled, nothing listed or recorded, and a cancelled task's next attempt never reaches the agent
    expect(err?.name).toBe(ErrorNames.Cancelled);
    expect(await store.listArtifacts(TASK)).toEqual([]);
    expect(await store.getSucceeded(TASK, 1, 'a')).toBeUndefined();
    expect(again?.name).toBe(ErrorNames.Cancelled);
    expect(sent).toHaveLength(1);
  });

  it('writes StepStarted while the agent runs, yet before any other event of the attempt, and before it gives up on a failed agent', async () => {
    // Prepare: the start's write is slow (it ends only after the agent answered)
    await prepareTask([
      { id: 'a', agent: 'echo' },
      { id: 'b', agent: 'echo' },
    ]);
    const append = store.appendEvent.bind(store);
    let agentRan = false;
    let startWrittenAfterAgent = false;
    store.appendEvent = async (e) => {
      if (e.type === 'StepStarted') {
        await new Promise((r) => setTimeout(r, 30));
        startWrittenAfterAgent = agentRan;
      }
      return append(e);
    };
    const audited = (ok: boolean) => async () => {
      agentRan = true;
      return {
        ok,
        ...(ok
          ? { summary: 'done', artifacts: [] }
          : { error: { name: 'Baton.AgentFailed', message: 'no' } }),
        audit: [toolCall(1)],
      };
    };

    // Act
    await runStep(deps(audited(true)), invocation);
    const failed = await failureOf(runStep(deps(audited(false)), { ...invocation, stepId: 'b' }));

    // Assess: the writes overlapped the agent, and the trail has each start first
    expect(startWrittenAfterAgent).toBe(true);
    expect(failed?.name).toBe(ErrorNames.AgentFailed);
    const trail = await store.allEvents(TASK);
    for (const stepId of ['a', 'b']) {
      const own = trail.filter((e) => e.stepId === stepId && e.type !== 'StepSucceeded');
      expect(own.map((e) => e.type)).toEqual(['StepStarted', 'ToolCalled']);
    }
  });

  it('says in the trail when an attempt that had started runs again (an interrupted runner, resumed)', async () => {
    // Prepare: the first run of attempt 1 was interrupted after StepStarted
    await prepareTask([{ id: 'a', agent: 'echo' }]);
    let interrupted = false;
    const once: AgentModule = async () => {
      if (!interrupted) {
        interrupted = true;
        throw new Error('the process died here');
      }
      return { summary: 'ran again' };
    };
    await failureOf(runStep(deps(agentSide('echo', once)), invocation));

    // Act
    await runStep(deps(agentSide('echo', once)), invocation);

    // Assess
    const starts = (await store.allEvents(TASK)).filter((e) => e.type === 'StepStarted');
    expect(starts.map((e) => [e.id, e.data])).toEqual([
      ['r1.StepStarted.a.1', { attempt: 1, agent: 'echo', run: 1 }],
      ['r1.StepStarted.a.1.rerun1', { attempt: 1, agent: 'echo', run: 1, rerun: 1 }],
    ]);
  });

  it('fails an answer over Lambda’s response limit as a contract violation, not a retry', async () => {
    // Prepare
    await prepareTask([{ id: 'a', agent: 'echo' }]);

    // Act
    const err = await failureOf(
      runStep(
        deps(async () => {
          throw new AgentInvocationError('Function.ResponseSizeTooLarge', 'Response payload size exceeded');
        }),
        invocation,
      ),
    );

    // Assess
    expect(err?.name).toBe(ErrorNames.ContractViolation);
  });

  it('runs the fallback agent of the plan on a fallback invocation', async () => {
    // Prepare
    await prepareTask([{ id: 'a', agent: 'fail', fallbackAgent: 'echo' }]);
    const echo: AgentModule = async (input) => ({ summary: `fallback after ${input.failure?.name}` });

    // Act
    const result = await runStep(deps(agentSide('echo', echo)), {
      ...invocation,
      attempt: 2,
      failure: { agent: 'fail', name: ErrorNames.AgentFailed, message: 'boom' },
    });

    // Assess
    expect(result.agent).toBe('echo');
    expect(sent[0]?.input.agent).toBe('echo');
    expect((await store.getSucceeded(TASK, 1, 'a'))?.summary).toBe(
      `fallback after ${ErrorNames.AgentFailed}`,
    );
  });
});

describe('a StepStarted number carried by the release', () => {
  const ok: AgentModule = async () => ({ summary: 'ok' });
  /** a, then b waiting on a: b parked (its token and StepWaiting written), as a gate leaves it. */
  async function parkedB(opts: { approval?: 'before' } = {}) {
    await prepareTask([
      { id: 'a', agent: 'echo' },
      { id: 'b', agent: 'echo', dependsOn: ['a'], ...opts },
    ]);
    await store.putToken(TASK, 1, 'b', 'token-b', true);
    await store.appendEvent(
      Events.stepWaiting({ taskId: TASK, traceId: TRACE, run: 1, stepId: 'b' }, { waitingFor: ['a'] }),
    );
  }
  const reservations = () => {
    const counts: number[] = [];
    const reserve = store.reserveSeqs.bind(store);
    store.reserveSeqs = async (taskId, count) => {
      counts.push(count);
      return reserve(taskId, count);
    };
    return counts;
  };
  const trail = async () => (await store.allEvents(TASK)).map((e) => [e.seq, e.type, e.stepId]);
  const bOf = (gate: unknown) => ({ ...invocation, agentFunction: 'fn-b', stepId: 'b', gate });

  it('is reserved right after the releaser’s StepSucceeded and starts the released step without a reservation', async () => {
    // Prepare
    await parkedB();

    // Act: a runs and releases b; b runs with what its gate was answered
    await runStep(deps(agentSide('echo', ok)), invocation);
    const release = outputs.get('token-b') as { action: string; started: { seq: number; at: string } };
    const counts = reservations();
    await runStep(deps(agentSide('echo', ok)), bOf(release));

    // Assess: one number more in a's reservation, none for b's start (only its completion's)
    // (seq 1 is the task's TaskSubmitted, taken when the task is created)
    expect(release).toMatchObject({ action: 'run', started: { seq: 5 } });
    expect(counts).toEqual([1]);
    expect(await trail()).toEqual([
      [2, 'StepWaiting', 'b'],
      [3, 'StepStarted', 'a'],
      [4, 'StepSucceeded', 'a'],
      [5, 'StepStarted', 'b'],
      [6, 'StepSucceeded', 'b'],
    ]);
  });

  it('is not used before the step’s StepWaiting, for a later attempt, or when it is old', async () => {
    // Prepare: numbers that would each misorder the trail or be used twice
    await parkedB();
    await runStep(deps(agentSide('echo', ok)), invocation);
    const { started } = outputs.get('token-b') as { started: { seq: number; at: string } };
    const waiting = (await store.allEvents(TASK)).find((e) => e.type === 'StepWaiting');
    const notAfterWaiting = { seq: waiting?.seq ?? 0, at: started.at };
    const old = { ...started, at: new Date(Date.now() - 6_000).toISOString() };
    const failing: AgentModule = async () => {
      throw new Error('not this time');
    };
    const counts = reservations();

    // Act: b's attempt 1 with a number not after its StepWaiting (it fails); attempt 2 with the
    // number its release carried (it fails too); attempt 3 with an old number
    await failureOf(
      runStep(deps(agentSide('echo', failing)), bOf({ action: 'run', started: notAfterWaiting })),
    );
    await failureOf(
      runStep(deps(agentSide('echo', failing)), { ...bOf({ action: 'run', started }), attempt: 2 }),
    );
    await runStep(deps(agentSide('echo', ok)), { ...bOf({ action: 'run', started: old }), attempt: 3 });

    // Assess: each start reserved a number of its own (the last attempt its completion too), and
    // no number was used twice
    expect(counts).toEqual([1, 1, 1, 1]);
    const events = await store.allEvents(TASK);
    expect(new Set(events.map((e) => e.seq)).size).toBe(events.length);
    const starts = events.filter((e) => e.type === 'StepStarted' && e.stepId === 'b');
    expect(starts.map((e) => e.data)).toMatchObject([{ attempt: 1 }, { attempt: 2 }, { attempt: 3 }]);
    expect(starts.map((e) => e.seq)).not.toContain(started.seq);
  });

  it('is not reserved for a dependent that goes to its approval gate first', async () => {
    // Prepare
    await parkedB({ approval: 'before' });
    const counts = reservations();

    // Act
    await runStep(deps(agentSide('echo', ok)), invocation);

    // Assess: a's start and its completion reserved one number each (its StepSucceeded only);
    // b's gate took its route
    expect(counts).toEqual([1, 1]);
    expect(released).toEqual(['token-b']);
    expect(outputs.has('token-b')).toBe(false);
  });
});
