import { describe, expect, it } from 'vitest';
import { NonRetryableError } from '../../../lambdas/core/errors.js';
import { createOfflineProvider, estimateTokens } from '../../../lambdas/models/offline.js';
import type { GenerateRequest } from '../../../lambdas/models/types.js';

const request: GenerateRequest = {
  messages: [
    { role: 'system', content: 'You are the writing agent.' },
    { role: 'user', content: 'Write a haiku about queues.' },
  ],
};

describe('offline provider', () => {
  it('is honest and deterministic: the same input gives the same output', async () => {
    // Prepare
    const a = createOfflineProvider();
    const b = createOfflineProvider();
    // Act
    const first = await a.generate(request);
    const second = await a.generate(structuredClone(request));
    const other = await b.generate(request);
    // Assess
    expect(a.id).toBe('offline');
    expect(a.deterministic).toBe(true);
    expect(second).toEqual(first);
    expect(other).toEqual(first);
    expect(first.text).toContain('deterministic');
    expect(first.text).toContain('no LLM was called');
    expect(first.text).toContain('Write a haiku about queues.');
    expect(first.stopReason).toBe('end');
    expect(first.toolCalls).toEqual([]);
    expect(first.model).toBe('offline');
  });

  it('estimates usage at about four characters per token', async () => {
    // Prepare
    const model = createOfflineProvider();
    const inputChars = 'You are the writing agent.'.length + 'Write a haiku about queues.'.length;
    // Act
    const result = await model.generate(request);
    // Assess
    expect(estimateTokens('12345')).toBe(2);
    expect(result.usage).toEqual({
      inputTokens: Math.ceil(inputChars / 4),
      outputTokens: Math.ceil(result.text.length / 4),
      totalTokens: Math.ceil(inputChars / 4) + Math.ceil(result.text.length / 4),
    });
  });

  it('plays scripted responses in order, filling in stop reason and usage, then fails', async () => {
    // Prepare
    const model = createOfflineProvider({
      responses: [
        { toolCalls: [{ id: 't1', name: 'web_search', arguments: { query: 'sqs' } }] },
        { text: 'done', usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 } },
      ],
    });
    // Act
    const first = await model.generate(request);
    const second = await model.generate(request);
    const third = await model.generate(request).catch((e: unknown) => e);
    // Assess
    expect(first.stopReason).toBe('tool_use');
    expect(first.toolCalls).toEqual([{ id: 't1', name: 'web_search', arguments: { query: 'sqs' } }]);
    expect(first.usage.outputTokens).toBeGreaterThan(0);
    expect(second).toEqual({
      text: 'done',
      toolCalls: [],
      stopReason: 'end',
      usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
      model: 'offline',
    });
    expect(third).toBeInstanceOf(NonRetryableError);
    expect((third as Error).message).toBe('offline provider: no scripted response left for call 3 (2 given)');
    expect(model.calls).toHaveLength(3);
  });

  it('answers through a function when given one', async () => {
    // Prepare
    const model = createOfflineProvider({
      respond: (req, index) => ({ text: `#${index}: ${req.messages.length} messages` }),
    });
    // Act
    const r0 = await model.generate(request);
    const r1 = await model.generate({ messages: [{ role: 'user', content: 'x' }] });
    // Assess
    expect([r0.text, r1.text]).toEqual(['#0: 2 messages', '#1: 1 messages']);
  });

  it('rejects an aborted request', async () => {
    // Prepare
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    // Act
    const error = await createOfflineProvider()
      .generate({ ...request, signal: controller.signal })
      .catch((e: unknown) => e);
    // Assess
    expect((error as Error).message).toBe('cancelled');
  });
});
