/**
 * Observability (issue 11, parts 3 and 4): trace ids and headers, the log scope of an
 * invocation, the metrics a task's events imply (EMF documents of the Baton namespace), and the
 * spans with OpenTelemetry GenAI attributes around agent invocations, tool and model calls.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IntakeQueue } from '../../lambdas/adapters/queue.js';
import { WorkflowClient } from '../../lambdas/adapters/workflow.js';
import { ALL_CAPABILITIES } from '../../lambdas/agents/capabilities.js';
import { openAgentSession } from '../../lambdas/agents/context.js';
import { resolveAgentSettings } from '../../lambdas/agents/registry.js';
import { observedInvoke } from '../../lambdas/agents/runner-lambda.js';
import { submitTask } from '../../lambdas/api/tasks.js';
import { Events } from '../../lambdas/core/events.js';
import { EventMeter } from '../../lambdas/core/metrics.js';
import type { AgentInput } from '../../lambdas/core/schemas.js';
import type { MetricPoint, SpanAttributes, Telemetry } from '../../lambdas/core/telemetry.js';
import { isTraceId, requestTraceId, traceHeaderFor, traceIdOf } from '../../lambdas/core/trace.js';
import { estimateModelCost } from '../../lambdas/models/pricing.js';
import { startTask } from '../../lambdas/orchestrator/lifecycle.js';
import { planForTask } from '../../lambdas/orchestrator/planner.js';
import { APPROVAL_NEAR_EXPIRY_SECONDS, sweepQueuedTasks } from '../../lambdas/orchestrator/sweep.js';
import { logger, meteredEvents, observed, publishMetrics } from '../../lambdas/shared/observability.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { agentInput } from './agents/helpers.js';

const TRACE = '1-5759e988-bd862e3fe1be46a994272793';
const task = { taskId: 't_1', traceId: TRACE, run: 1 };
const step = { ...task, stepId: 'a', attempt: 2 };

/** What Powertools writes to stdout (its own Console on process.stdout), parsed. */
function captureStdout(): { lines: () => Record<string, unknown>[]; restore: () => void } {
  const written: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  return {
    lines: () =>
      written
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    restore: () => spy.mockRestore(),
  };
}

/** A fake Telemetry that records spans: name, attributes (those set later included), outcome. */
function recordingTelemetry() {
  const spans: { name: string; attributes: SpanAttributes; error?: string }[] = [];
  const telemetry: Telemetry = {
    async span(name, attributes, fn) {
      const span = {
        name,
        attributes: { ...attributes } as SpanAttributes,
        error: undefined as string | undefined,
      };
      spans.push(span);
      try {
        return await fn({ set: (a) => Object.assign(span.attributes, a) });
      } catch (err) {
        span.error = (err as Error).name;
        throw err;
      }
    },
  };
  return { telemetry, spans };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('trace ids', () => {
  it("reads a header's Root, refusing what is not an X-Ray trace id", () => {
    expect(traceIdOf(`Root=${TRACE};Parent=53995c3f42cd8ad8;Sampled=1`)).toBe(TRACE);
    expect(traceIdOf('Root=not-a-trace')).toBeUndefined();
    expect(traceIdOf(undefined)).toBeUndefined();
  });

  it("takes the first valid header's trace for a request, else a new one", () => {
    expect(requestTraceId(undefined, 'Root=garbage', `Root=${TRACE}`)).toBe(TRACE);
    const fresh = requestTraceId(undefined);
    expect(isTraceId(fresh)).toBe(true);
    expect(fresh).not.toBe(TRACE);
  });

  it("continues a trace with the caller's header when it is of that trace, else with its Root only", () => {
    const own = `Root=${TRACE};Parent=53995c3f42cd8ad8;Sampled=1`;
    expect(traceHeaderFor(TRACE, own)).toBe(own);
    expect(traceHeaderFor(TRACE, 'Root=1-00000000-000000000000000000000000;Sampled=1')).toBe(`Root=${TRACE}`);
    expect(traceHeaderFor(TRACE)).toBe(`Root=${TRACE}`);
  });
});

describe('the log scope of an invocation', () => {
  it('puts taskId, run, stepId, attempt and traceId on every line, and clears them for the next', async () => {
    // Prepare
    const out = captureStdout();
    const handler = middy<unknown, string>()
      .use(observed())
      .handler(async () => {
        logger.info('working');
        return 'done';
      });
    // Act
    await handler({ ...step, agentFunction: 'f' }, {} as never);
    await handler({ nothing: true }, {} as never);
    out.restore();
    // Assess
    const [working, handled, second] = out
      .lines()
      .filter((l) => l.message === 'working' || l.message === 'handled');
    expect(working).toMatchObject({ taskId: 't_1', run: 1, stepId: 'a', attempt: 2, traceId: TRACE });
    expect(handled).toMatchObject({ message: 'handled', outcome: 'ok', taskId: 't_1', traceId: TRACE });
    expect(second?.message).toBe('working');
    for (const k of ['taskId', 'run', 'stepId', 'attempt', 'traceId']) expect(second).not.toHaveProperty(k);
  });
});

describe('metrics from events', () => {
  it('counts tasks by outcome, step attempts by agent and dead letters', () => {
    const meter = new EventMeter();
    const points = [
      ...meter.observe(Events.taskSucceeded(task, {}), true),
      ...meter.observe(Events.taskFailed(task, {}), true),
      ...meter.observe(Events.taskCancelled(task, { run: 1, previousStatus: 'RUNNING' }), true),
      ...meter.observe(
        Events.stepSucceeded(step, { attempt: 2, agent: 'research', summary: 's', artifacts: [] }),
        true,
      ),
      ...meter.observe(
        Events.deadLetterRecorded(task, { run: 1, error: { name: 'E', message: 'm' }, failedSteps: [] }),
        true,
      ),
    ];
    expect(points).toEqual([
      { name: 'TasksCompleted', unit: 'Count', value: 1, dimensions: { outcome: 'SUCCEEDED' } },
      { name: 'TasksCompleted', unit: 'Count', value: 1, dimensions: { outcome: 'FAILED' } },
      { name: 'TasksCompleted', unit: 'Count', value: 1, dimensions: { outcome: 'CANCELLED' } },
      { name: 'StepAttempts', unit: 'Count', value: 2, dimensions: { agent: 'research' } },
      { name: 'DeadLetters', unit: 'Count', value: 1, dimensions: {} },
    ]);
  });

  it('counts nothing for an event the store already had (a retried Lambda)', () => {
    expect(new EventMeter().observe(Events.taskSucceeded(task, {}), false)).toEqual([]);
  });

  it("gives tokens and estimated cost by the step's agent and the model", () => {
    // Prepare: the runner records StepStarted (naming the agent) before the attempt's calls.
    const meter = new EventMeter(estimateModelCost);
    meter.observe(Events.stepStarted(step, { attempt: 2, agent: 'research', run: 1 }), false);
    // Act
    const points = meter.observe(
      Events.modelCalled(step, {
        call: 1,
        attempt: 2,
        model: 'bedrock:anthropic.claude-3-5-haiku-20241022-v1:0',
        argsDigest: 'd',
        tools: [],
        durationMs: 5,
        outcome: 'ok',
        usage: { inputTokens: 1000, outputTokens: 500, totalTokens: 1500 },
        stepTokensUsed: 1500,
      }),
      true,
    );
    // Assess: 1000 * 0.8 / 1M + 500 * 4 / 1M USD
    const dimensions = { agent: 'research', model: 'bedrock:anthropic.claude-3-5-haiku-20241022-v1:0' };
    expect(points).toEqual([
      { name: 'InputTokens', unit: 'Count', value: 1000, dimensions },
      { name: 'OutputTokens', unit: 'Count', value: 500, dimensions },
      { name: 'EstimatedCost', unit: 'None', value: 0.0028, dimensions },
    ]);
  });

  it('measures the approval wait from its request to its decision', () => {
    const meter = new EventMeter();
    const gate = { ...task, stepId: 'a' };
    meter.observe(
      Events.approvalRequested(gate, {
        approvalId: 'ap1',
        kind: 'step',
        round: 1,
        escalation: false,
        requestedAt: '2026-01-01T00:00:00.000Z',
        expiresAt: '2026-01-02T00:00:00.000Z',
        timeoutSeconds: 86400,
        onTimeout: 'reject',
      }),
      false,
    );
    const points = meter.observe(
      Events.approvalDecided(gate, {
        approvalId: 'ap1',
        kind: 'step',
        round: 1,
        decision: 'approve',
        approver: 'ana',
        via: 'link',
        at: '2026-01-01T00:02:30.000Z',
      }),
      true,
    );
    expect(points).toEqual([
      { name: 'ApprovalWait', unit: 'Seconds', value: 150, dimensions: { kind: 'step' } },
    ]);
  });

  it('publishes each point as an EMF document of the Baton namespace with its own dimensions', () => {
    // Prepare
    const out = captureStdout();
    // Act
    publishMetrics([
      { name: 'InputTokens', unit: 'Count', value: 7, dimensions: { agent: 'research', model: 'offline' } },
      { name: 'DeadLetters', unit: 'Count', value: 1, dimensions: {} },
    ]);
    out.restore();
    // Assess
    const [tokens, dead] = out.lines();
    expect(tokens).toMatchObject({ InputTokens: 7, agent: 'research', model: 'offline' });
    expect(tokens?._aws).toMatchObject({
      CloudWatchMetrics: [
        {
          Namespace: 'Baton',
          Dimensions: [['agent', 'model']],
          Metrics: [{ Name: 'InputTokens', Unit: 'Count' }],
        },
      ],
    });
    expect(tokens).not.toHaveProperty('service');
    expect(dead).toMatchObject({ DeadLetters: 1 });
    expect(dead?._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: 'Baton', Metrics: [{ Name: 'DeadLetters' }] }],
    });
  });

  it('publishes through the store only what it newly wrote', async () => {
    // Prepare
    const published: MetricPoint[] = [];
    const store = meteredEvents(new MemoryStore(), new EventMeter(), (p) => published.push(...p));
    // Act: the same event twice (a duplicate delivery)
    await store.appendEvent(Events.taskSucceeded(task, {}));
    await store.appendEvent(Events.taskSucceeded(task, {}));
    // Assess
    expect(published.map((p) => p.name)).toEqual(['TasksCompleted']);
    expect((await store.allEvents('t_1')).map((e) => e.type)).toEqual(['TaskSucceeded']);
  });

  it('meters events appended together the same way, once each', async () => {
    // Prepare
    const published: MetricPoint[] = [];
    const store = meteredEvents(new MemoryStore(), new EventMeter(), (p) => published.push(...p));
    // Act: two facts in one batch, one of them again in a second batch
    await store.appendEvents([Events.taskSucceeded(task, {}), Events.taskFailed({ ...task, run: 2 }, {})]);
    await store.appendEvents([Events.taskSucceeded(task, {})]);
    // Assess
    expect(published.map((p) => p.name)).toEqual(['TasksCompleted', 'TasksCompleted']);
    expect((await store.allEvents('t_1')).map((e) => e.type)).toEqual(['TaskSucceeded', 'TaskFailed']);
  });

  it('meters a StepSucceeded written with its result (putSuccess), once', async () => {
    // Prepare
    const published: MetricPoint[] = [];
    const store = meteredEvents(new MemoryStore(), new EventMeter(), (p) => published.push(...p));
    const event = Events.stepSucceeded(
      { ...task, stepId: 'a' },
      { attempt: 2, agent: 'research', summary: 's', artifacts: [] },
    );
    const result = {
      stepId: 'a',
      run: 1,
      status: 'SUCCEEDED' as const,
      attempt: 2,
      agent: 'research',
      at: 'x',
    };
    // Act: the completion, then a redo of it
    const writes = [
      await store.putSuccess('t_1', { result, event, seq: 1 }),
      await store.putSuccess('t_1', { result, event, seq: 2 }),
    ];
    // Assess
    expect(writes).toEqual([true, false]);
    expect(published).toEqual([
      { name: 'StepAttempts', unit: 'Count', value: 2, dimensions: { agent: 'research' } },
    ]);
  });
});

describe('spans with OpenTelemetry GenAI attributes', () => {
  it('wraps an agent invocation in invoke_agent and times it as StepDuration by agent', async () => {
    // Prepare
    const { telemetry, spans } = recordingTelemetry();
    const points: MetricPoint[] = [];
    let now = 1000;
    const invoke = observedInvoke(
      async () => {
        now += 250;
        return { ok: true };
      },
      telemetry,
      (p) => points.push(...p),
      () => now,
    );
    const input: AgentInput = agentInput({ agent: 'research', stepId: 'a', attempt: 2 });
    // Act
    await invoke('fn-research', { input } as never);
    // Assess
    expect(spans).toEqual([
      {
        name: 'invoke_agent research',
        attributes: expect.objectContaining({
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.agent.name': 'research',
          'baton.step.id': 'a',
          'baton.step.attempt': 2,
        }),
        error: undefined,
      },
    ]);
    expect(points).toEqual([
      { name: 'StepDuration', unit: 'Milliseconds', value: 250, dimensions: { agent: 'research' } },
    ]);
  });

  it("wraps an agent's tool calls in execute_tool and its model calls in chat, with token usage", async () => {
    // Prepare
    const { telemetry, spans } = recordingTelemetry();
    const input = agentInput({
      agent: 'research',
      stepId: 'r1',
      attempt: 1,
      inputs: { documents: [{ title: 'Doc', text: 'Wind turbines spin.' }] },
    });
    const s = await openAgentSession({
      input,
      run: 1,
      traceId: TRACE,
      settings: resolveAgentSettings('research'),
      capabilities: ALL_CAPABILITIES,
      defaultModel: { provider: 'offline' },
      sink: async () => {},
      readArtifact: async () => new Uint8Array(),
      log: () => {},
      telemetry,
    });
    // Act
    await s.ctx.tools?.call('search', { query: 'wind' });
    const reply = await s.ctx.model?.generate({ messages: [{ role: 'user', content: 'Summarize wind.' }] });
    await s.close();
    // Assess
    expect(spans.map((x) => x.name)).toEqual(['execute_tool search', `chat ${s.ctx.model?.id}`]);
    expect(spans[0]?.attributes).toEqual({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.agent.name': 'research',
      'gen_ai.tool.name': 'search',
    });
    expect(spans[1]?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.agent.name': 'research',
      'gen_ai.request.model': s.ctx.model?.id,
      'gen_ai.response.model': reply?.model,
      'gen_ai.usage.input_tokens': reply?.usage.inputTokens,
      'gen_ai.usage.output_tokens': reply?.usage.outputTokens,
    });
  });
});

describe("the planner's model calls", () => {
  it('are chat spans of the agent "planner"', async () => {
    // Prepare: a model (not deterministic) that answers with a plan
    const { telemetry, spans } = recordingTelemetry();
    const usage = { inputTokens: 40, outputTokens: 12, totalTokens: 52 };
    const model = {
      id: 'fake:planner-model',
      deterministic: false,
      generate: async () => ({
        text: JSON.stringify({ steps: [{ id: 'a', agent: 'research', input: { topic: 'wind' } }] }),
        toolCalls: [],
        stopReason: 'end' as const,
        usage,
        model: 'fake:planner-model',
      }),
    };
    // Act
    const plan = await planForTask(
      new MemoryStore(),
      { taskId: 't_1', goal: 'wind', traceId: TRACE },
      1,
      new Set(['research']),
      {
        model,
        telemetry,
      },
    );
    // Assess
    expect(plan.steps.map((x) => x.agent)).toEqual(['research']);
    expect(spans[0]).toMatchObject({
      name: 'chat fake:planner-model',
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.agent.name': 'planner',
        'gen_ai.usage.input_tokens': 40,
        'gen_ai.usage.output_tokens': 12,
      },
    });
  });
});

describe("a submission's trace", () => {
  it("makes the request's trace the task's, and a replay of its Idempotency-Key keeps the first", async () => {
    // Prepare
    const store = new MemoryStore();
    const sent: unknown[] = [];
    const scopes: unknown[] = [];
    let requestTrace = TRACE;
    const deps = {
      store,
      queue: { send: async (m: unknown) => void sent.push(m) },
      knownAgents: () => new Set(['echo']),
      traceId: () => requestTrace,
      inTask: (scope: unknown) => void scopes.push(scope),
    } as never;
    const body = { goal: 'g', plan: { steps: [{ id: 'a', agent: 'echo' }] } };
    // Act: the same key twice, the second time in another request's trace
    const first = await submitTask(deps, body, 'key-1');
    requestTrace = '1-00000000-111111111111111111111111';
    await submitTask(deps, body, 'key-1');
    // Assess
    expect((await store.getTask(first.taskId))?.traceId).toBe(TRACE);
    expect(sent).toEqual([
      { taskId: first.taskId, run: 1, traceId: TRACE },
      { taskId: first.taskId, run: 1, traceId: TRACE },
    ]);
    expect(scopes).toEqual([
      { taskId: first.taskId, run: 1, traceId: TRACE },
      { taskId: first.taskId, run: 1, traceId: TRACE },
    ]);
  });
});

describe("the task's trace across the queue and the execution start", () => {
  it('puts the trace on the intake message as its AWSTraceHeader, keeping the sender header of that trace', async () => {
    // Prepare
    const sqs = mockClient(SQSClient);
    sqs.on(SendMessageCommand).resolves({});
    const own = `Root=${TRACE};Parent=53995c3f42cd8ad8;Sampled=1`;
    const queue = new IntakeQueue(new SQSClient({ region: 'eu-west-1' }), 'https://sqs/q', () => own);
    // Act
    await queue.send({ taskId: 't_1', run: 1, traceId: TRACE });
    await queue.send({ taskId: 't_2', run: 1, traceId: 'not-a-trace-id' });
    // Assess
    const [first, second] = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(first?.MessageSystemAttributes).toEqual({
      AWSTraceHeader: { DataType: 'String', StringValue: own },
    });
    expect(second?.MessageSystemAttributes).toBeUndefined();
    sqs.restore();
  });

  it('starts the execution with the trace header and the trace id in its input', async () => {
    // Prepare: a QUEUED task whose message came with its trace header
    const sfn = mockClient(SFNClient);
    sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: 'arn:aws:states:eu-west-1:1:execution:sm:t_1-r1' });
    const store = new MemoryStore();
    await store.createTask(
      {
        taskId: 't_1',
        goal: 'g',
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:00.000Z',
        traceId: TRACE,
        status: 'QUEUED',
        policy: {},
        run: 1,
        requestHash: 'h',
      },
      {},
    );
    const workflow = new WorkflowClient(
      new SFNClient({ region: 'eu-west-1' }),
      'arn:aws:states:eu-west-1:1:stateMachine:sm',
    );
    const header = `Root=${TRACE};Parent=1111111111111111;Sampled=1`;
    // Act
    await startTask(
      { store, workflow, agentFunctions: {} } as never,
      JSON.stringify({ taskId: 't_1', run: 1, traceId: TRACE }),
      header,
    );
    // Assess
    const [start] = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(start?.traceHeader).toBe(header);
    expect(JSON.parse(start?.input ?? '{}')).toEqual({ taskId: 't_1', run: 1, traceId: TRACE });
    sfn.restore();
  });
});

describe('approvals near expiry', () => {
  it('are counted by the sweeper among the PENDING approvals and published, 0 included', async () => {
    // Prepare: one approval expiring in 10 minutes, one in a day
    const store = new MemoryStore();
    const now = new Date('2026-01-01T12:00:00.000Z');
    const approval = (id: string, expiresInSeconds: number) =>
      store.createApproval({
        id,
        taskId: `t_${id}`,
        stepId: 'a',
        kind: 'step',
        status: 'PENDING',
        requestedAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + expiresInSeconds * 1000).toISOString(),
        run: 1,
        round: 1,
        timeoutSeconds: expiresInSeconds,
        onTimeout: 'reject',
        taskToken: `token-${id}`,
      });
    await approval('soon', 600);
    await approval('later', 86_400);
    const published: MetricPoint[] = [];
    const deps = {
      store,
      queue: { send: async () => {} },
      metrics: (p: MetricPoint[]) => published.push(...p),
    };
    // Act
    const result = await sweepQueuedTasks(deps, now);
    const dayLater = await sweepQueuedTasks({ ...deps, store: new MemoryStore() }, now);
    // Assess
    expect(APPROVAL_NEAR_EXPIRY_SECONDS).toBe(3600);
    expect(result.approvalsNearExpiry).toBe(1);
    expect(dayLater.approvalsNearExpiry).toBe(0);
    expect(published).toEqual([
      { name: 'ApprovalsNearExpiry', unit: 'Count', value: 1, dimensions: {} },
      { name: 'ApprovalsNearExpiry', unit: 'Count', value: 0, dimensions: {} },
    ]);
  });
});
