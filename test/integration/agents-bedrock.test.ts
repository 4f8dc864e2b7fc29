/**
 * The research task of the agents' end-to-end test, with a Bedrock model id configured
 * (BATON_MODEL_CONFIG): the planner and every agent call Converse (mocked with aws-sdk-client-mock;
 * the local runtime runs the Lambdas in this process), and every model call is in the audit trail.
 */
import { resolve } from 'node:path';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
  type Message,
} from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEARCH_SYSTEM_PROMPT } from '../../lambdas/agents/research.js';
import { REVIEW_SYSTEM_PROMPT } from '../../lambdas/agents/review.js';
import { WRITING_SYSTEM_PROMPT } from '../../lambdas/agents/writing.js';
import { PLANNER_SYSTEM_PROMPT } from '../../lambdas/orchestrator/planner.js';
import { type Harness, startHarness } from './harness.js';

const MODEL_ID = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';
const bedrock = mockClient(BedrockRuntimeClient);

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
beforeAll(async () => {
  bedrock.on(ConverseCommand).callsFake(answer);
  h = await startHarness({
    configPath: resolve(import.meta.dirname, '../fixtures/agents.config.json'),
    env: {
      BATON_MODEL_CONFIG: JSON.stringify({ provider: 'bedrock', modelId: MODEL_ID, region: 'us-east-1' }),
    },
  });
});
afterAll(async () => {
  await h?.close();
  bedrock.restore();
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
    expect(task.status).toBe('SUCCEEDED');
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

    const calls = bedrock.commandCalls(ConverseCommand).map((c) => c.args[0].input);
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
