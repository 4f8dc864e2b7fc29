import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AgentFailedError } from '../../../lambdas/core/errors.js';
import { StructuredOutputError } from '../../../lambdas/models/errors.js';
import { createOfflineProvider } from '../../../lambdas/models/offline.js';
import { generateObject, parseJsonReply } from '../../../lambdas/models/types.js';

const Finding = z.object({
  title: z.string().min(1),
  confidence: z.number().min(0).max(1),
  sources: z.array(z.string()),
});

const usage = { inputTokens: 100, outputTokens: 20, totalTokens: 120 };

describe('generateObject', () => {
  it('asks for JSON matching the schema and returns the validated value', async () => {
    // Prepare
    const model = createOfflineProvider({
      responses: [{ text: '{"title":"Quotas","confidence":0.8,"sources":["aws docs"]}', usage }],
    });
    // Act
    const { value, usage: used } = await generateObject(
      model,
      {
        messages: [
          { role: 'system', content: 'You are the research agent.' },
          { role: 'user', content: 'Summarize.' },
        ],
      },
      Finding,
    );
    // Assess
    expect(value).toEqual({ title: 'Quotas', confidence: 0.8, sources: ['aws docs'] });
    expect(used).toEqual(usage);
    expect(model.calls).toHaveLength(1);
    const messages = model.calls[0]?.messages ?? [];
    expect(messages.map((m) => m.role)).toEqual(['system', 'system', 'user']);
    expect(messages[1]?.content).toContain(JSON.stringify(z.toJSONSchema(Finding, { io: 'input' })));
  });

  it('re-asks once with the validation errors when the first reply is invalid', async () => {
    // Prepare
    const model = createOfflineProvider({
      responses: [
        { text: 'Sure! {"title":"Quotas","confidence":1.7}', usage },
        { text: '```json\n{"title":"Quotas","confidence":0.7,"sources":[]}\n```', usage },
      ],
    });
    // Act
    const { value, usage: used } = await generateObject(
      model,
      { messages: [{ role: 'user', content: 'Summarize.' }] },
      Finding,
    );
    // Assess
    expect(value).toEqual({ title: 'Quotas', confidence: 0.7, sources: [] });
    expect(used).toEqual({ inputTokens: 200, outputTokens: 40, totalTokens: 240 });
    expect(model.calls).toHaveLength(2);
    const second = model.calls[1]?.messages ?? [];
    expect(second.at(-2)).toEqual({
      role: 'assistant',
      content: 'Sure! {"title":"Quotas","confidence":1.7}',
    });
    const feedback = second.at(-1);
    expect(feedback?.role).toBe('user');
    expect(feedback?.content).toContain('confidence: Too big: expected number to be <=1');
    expect(feedback?.content).toContain('sources: Invalid input: expected array, received undefined');
  });

  it('re-asks when the reply is not JSON at all', async () => {
    // Prepare
    const model = createOfflineProvider({
      responses: [
        { text: 'I think the title is Quotas.' },
        { text: '{"title":"Quotas","confidence":0.5,"sources":["x"]}' },
      ],
    });
    // Act
    const { value } = await generateObject(model, { messages: [{ role: 'user', content: 'Go' }] }, Finding);
    // Assess
    expect(value.title).toBe('Quotas');
    expect(model.calls[1]?.messages.at(-1)?.content).toContain('the reply is not valid JSON');
  });

  it('throws StructuredOutputError when the second reply is invalid too', async () => {
    // Prepare
    const model = createOfflineProvider({
      responses: [{ text: 'not json' }, { text: '{"title":"","confidence":0.5,"sources":[]}' }],
    });
    // Act
    const error = await generateObject(model, { messages: [{ role: 'user', content: 'Go' }] }, Finding).catch(
      (e: unknown) => e,
    );
    // Assess
    expect(model.calls).toHaveLength(2);
    expect(error).toBeInstanceOf(StructuredOutputError);
    expect(error).toBeInstanceOf(AgentFailedError);
    const e = error as StructuredOutputError;
    expect(e.issues).toEqual(['title: Too small: expected string to have >=1 characters']);
    expect(e.text).toBe('{"title":"","confidence":0.5,"sources":[]}');
    expect(e.message).toContain('did not return JSON matching the schema after 2 attempts');
  });
});

describe('parseJsonReply', () => {
  it('says when a reply was empty', () => {
    // Act
    const parsed = parseJsonReply('   ', Finding);
    // Assess
    expect(parsed).toEqual({ ok: false, issues: ['the reply is empty; it must be a JSON value'] });
  });
});
