/**
 * The research task of the agents' end-to-end test, with a Bedrock model id configured
 * (BATON_MODEL_CONFIG): the planner and every agent call Converse, and every model call is in the
 * audit trail. The functions run their bundles in sandboxes of their own, so Bedrock is a scripted
 * HTTP stand-in they reach through AWS_ENDPOINT_URL_BEDROCK_RUNTIME (the SDK's real client, signing
 * and serialization on their side), which records every Converse request.
 */
import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { ConverseCommandInput, ConverseCommandOutput, Message } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEARCH_SYSTEM_PROMPT } from '../../lambdas/agents/research.js';
import { REVIEW_SYSTEM_PROMPT } from '../../lambdas/agents/review.js';
import { WRITING_SYSTEM_PROMPT } from '../../lambdas/agents/writing.js';
import { PLANNER_SYSTEM_PROMPT } from '../../lambdas/orchestrator/planner.js';
import { type Harness, startHarness } from './harness.js';

const MODEL_ID = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';

/** The Converse requests the stand-in received, as the command inputs the functions sent. */
const converseCalls: ConverseCommandInput[] = [];

/**
 * Bedrock Runtime's Converse route (POST /model/{modelId}/converse), answered by `answer`; over
 * HTTP/2, as the SDK's Bedrock Runtime client speaks it.
 */
async function startBedrockStandIn(): Promise<Http2Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const route = /^\/model\/([^/]+)\/converse$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !route?.[1]) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<
        ConverseCommandInput,
        'modelId'
      >;
      const input: ConverseCommandInput = { modelId: decodeURIComponent(route[1]), ...body };
      converseCalls.push(input);
      try {
        const { $metadata: _, ...output } = answer(input);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(output));
      } catch (err) {
        res
          .writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'ValidationException' })
          .end(JSON.stringify({ message: (err as Error).message }));
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  return server;
}

const reply = (content: Message, stop: 'end_turn' | 'tool_use' = 'end_turn'): ConverseCommandOutput => ({
  $metadata: { httpStatusCode: 200 },
  output: { message: content },
  stopReason: stop,
  usage: { inputTokens: 200, outputTokens: 50, totalTokens: 250 },
  metrics: { latencyMs: 5 },
});
const say = (text: string) => reply({ role: 'assistant', content: [{ text }] });

/** A scripted model: answers by which prompt it is given. */
function answer(input: ConverseCommandInput): ConverseCommandOutput {
  const system = (input.system ?? []).map((b) => ('text' in b ? b.text : '')).join('\n');
  const last = input.messages?.at(-1)?.content ?? [];
  if (system.startsWith(PLANNER_SYSTEM_PROMPT)) {
    return say(
      JSON.stringify({
        steps: [
          { id: 'how', agent: 'research', input: { topic: 'heat pumps', focus: 'how they work' } },
          { id: 'costs', agent: 'research', input: { topic: 'heat pumps', focus: 'costs and risks' } },
          {
            id: 'brief',
            agent: 'writing',
            input: { title: 'Heat pumps', format: 'brief' },
            dependsOn: ['how', 'costs'],
          },
          {
            id: 'check',
            agent: 'review',
            input: { requiredSections: ['Summary', 'Sources'], requireCitations: true },
            dependsOn: ['brief'],
          },
        ],
      }),
    );
  }
  if (system === RESEARCH_SYSTEM_PROMPT) {
    if (!last.some((b) => b.toolResult)) {
      return reply(
        {
          role: 'assistant',
          content: [{ toolUse: { toolUseId: 'tu_1', name: 'search', input: { query: 'heat pump' } } }],
        },
        'tool_use',
      );
    }
    return say(
      '# Research notes: heat pumps\n\n- A heat pump moves heat instead of burning fuel. [1]\n\n## Sources\n\n[1] Heat pumps (heat-pumps.md)',
    );
  }
  if (system === WRITING_SYSTEM_PROMPT) {
    return say(
      '# Heat pumps\n\n## Summary\n\nHeat pumps move heat rather than make it. [1]\n\n## Sources\n\n[1] Heat pumps (heat-pumps.md)',
    );
  }
  if (system.startsWith(REVIEW_SYSTEM_PROMPT)) return say('{"verdict":"pass","reasons":[]}');
  throw new Error(`unexpected prompt: ${system.slice(0, 80)}`);
}

let h: Harness;
let bedrock: Http2Server;
beforeAll(async () => {
  bedrock = await startBedrockStandIn();
  h = await startHarness({
    configPath: resolve(import.meta.dirname, '../fixtures/agents.config.json'),
    env: {
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: `http://127.0.0.1:${(bedrock.address() as AddressInfo).port}`,
      BATON_MODEL_CONFIG: JSON.stringify({ provider: 'bedrock', modelId: MODEL_ID, region: 'us-east-1' }),
    },
  });
});
afterAll(async () => {
  await h?.close();
  await new Promise((ok) => bedrock?.close(ok));
});

describe('the research task with a Bedrock model configured', () => {
  it('plans with Converse and runs every agent on Converse, each call a ModelCalled event', async () => {
    // Act
    const res = await h.api('POST', '/tasks', {
      goal: 'Research heat pumps in ./docs and write a one-page brief, then review it',
    });
    const taskId = String(res.body.taskId);
    const task = (await h.waitFor(taskId, ['SUCCEEDED', 'FAILED'])) as {
      status: string;
      plan: {
        source: string;
        steps: { id: string; dependsOn: string[]; output?: Record<string, unknown> }[];
      };
    };
    // Assess
    expect(task.status, JSON.stringify(task.plan.steps)).toBe('SUCCEEDED');
    expect(task.plan.source).toBe('planner:model');
    expect(task.plan.steps.map((s) => [s.id, s.dependsOn])).toEqual([
      ['how', []],
      ['costs', []],
      ['brief', ['how', 'costs']],
      ['check', ['brief']],
    ]);
    expect(task.plan.steps.find((s) => s.id === 'check')?.output).toMatchObject({
      verdict: 'pass',
      mode: 'model',
    });

    const calls = converseCalls;
    expect(calls.every((c) => c.modelId === MODEL_ID)).toBe(true);
    expect(calls).toHaveLength(7); // plan 1, research 2 + 2 (tool turn, answer), writing 1, review 1

    const { events } = (
      await h.api<{ events: { type: string; stepId?: string; data: Record<string, unknown> }[] }>(
        'GET',
        `/tasks/${taskId}/events?limit=1000`,
      )
    ).body;
    const modelCalls = events.filter((e) => e.type === 'ModelCalled');
    expect(modelCalls.map((e) => e.stepId ?? 'plan').sort()).toEqual([
      'brief',
      'check',
      'costs',
      'costs',
      'how',
      'how',
      'plan',
    ]);
    for (const e of modelCalls) {
      expect(e.data).toMatchObject({
        model: `bedrock:${MODEL_ID}`,
        outcome: 'ok',
        usage: { inputTokens: 200, outputTokens: 50, totalTokens: 250 },
      });
    }
    expect(
      events
        .filter((e) => e.type === 'ToolCalled')
        .map((e) => [e.stepId, e.data.tool, e.data.outcome])
        .sort(),
    ).toEqual([
      ['costs', 'search', 'ok'],
      ['how', 'search', 'ok'],
    ]);
  });
});
