import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { NonRetryableError } from '../../../lambdas/core/errors.js';
import {
  createModelProvider,
  DEFAULT_MODEL_CONFIG,
  ModelConfig,
  modelConfigFromEnv,
  resolveModelConfig,
} from '../../../lambdas/models/index.js';

const bedrockDefault: ModelConfig = {
  provider: 'bedrock',
  modelId: 'us.anthropic.claude-3-5-haiku-20241022-v1:0',
  region: 'us-east-1',
};

describe('ModelConfig', () => {
  it('accepts the three providers and refuses unknown fields and bad URLs', () => {
    // Act / Assess
    expect(ModelConfig.safeParse(bedrockDefault).success).toBe(true);
    expect(ModelConfig.safeParse({ provider: 'offline' }).success).toBe(true);
    expect(
      ModelConfig.safeParse({
        provider: 'openai-compatible',
        baseURL: 'http://localhost:8000/v1',
        apiKeyEnv: 'VLLM_API_KEY',
        modelId: 'qwen2.5-7b',
      }).success,
    ).toBe(true);
    expect(ModelConfig.safeParse({ provider: 'bedrock', modelId: 'x', temperature: 1 }).success).toBe(false);
    expect(
      ModelConfig.safeParse({ provider: 'openai-compatible', baseURL: 'ftp://x', modelId: 'm' }).success,
    ).toBe(false);
    expect(
      ModelConfig.safeParse({
        provider: 'openai-compatible',
        baseURL: 'http://x',
        apiKey: 'k',
        apiKeyEnv: 'K',
        modelId: 'm',
      }).success,
    ).toBe(false);
  });
});

describe('resolveModelConfig', () => {
  it('uses the deployment default when the agent has no override', () => {
    // Act / Assess
    expect(resolveModelConfig(bedrockDefault, undefined)).toEqual(bedrockDefault);
    expect(resolveModelConfig(bedrockDefault, {})).toEqual(bedrockDefault);
  });

  it('lays an override of the same provider over the default', () => {
    // Act
    const config = resolveModelConfig(bedrockDefault, {
      modelId: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
    });
    // Assess
    expect(config).toEqual({ ...bedrockDefault, modelId: 'us.anthropic.claude-sonnet-4-20250514-v1:0' });
  });

  it('replaces the default with an override naming another provider', () => {
    // Act
    const config = resolveModelConfig(bedrockDefault, {
      provider: 'openai-compatible',
      baseURL: 'http://10.0.0.5:8000/v1',
      modelId: 'qwen2.5-coder-7b',
    });
    // Assess
    expect(config).toEqual({
      provider: 'openai-compatible',
      baseURL: 'http://10.0.0.5:8000/v1',
      modelId: 'qwen2.5-coder-7b',
    });
  });

  it('says what is wrong with an invalid result', () => {
    // Act
    const error = (() => {
      try {
        return resolveModelConfig(bedrockDefault, { provider: 'openai-compatible', modelId: 'm' });
      } catch (e) {
        return e;
      }
    })();
    // Assess
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toMatch(/^invalid agent model override: .*baseURL/);
  });
});

describe('modelConfigFromEnv', () => {
  it('reads BATON_MODEL_CONFIG and falls back to offline', () => {
    // Act / Assess
    expect(modelConfigFromEnv({})).toEqual(DEFAULT_MODEL_CONFIG);
    expect(modelConfigFromEnv({ BATON_MODEL_CONFIG: JSON.stringify(bedrockDefault) })).toEqual(
      bedrockDefault,
    );
    expect(() => modelConfigFromEnv({ BATON_MODEL_CONFIG: '{bad' })).toThrow(NonRetryableError);
  });
});

describe('createModelProvider', () => {
  it('creates each provider with its id', () => {
    // Act
    const bedrock = createModelProvider(bedrockDefault);
    const offline = createModelProvider({ provider: 'offline' });
    const compatible = createModelProvider({
      provider: 'openai-compatible',
      baseURL: 'http://127.0.0.1:9/v1',
      modelId: 'llama3.1',
    });
    // Assess
    expect([bedrock.id, bedrock.deterministic]).toEqual([`bedrock:${bedrockDefault.modelId}`, false]);
    expect([offline.id, offline.deterministic]).toEqual(['offline', true]);
    expect(compatible.id).toBe('openai-compatible:llama3.1');
  });

  it('reads the API key from apiKeyEnv and sends it', async () => {
    // Prepare
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 1730000000,
            model: 'llama3.1',
            choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const model = createModelProvider(
      {
        provider: 'openai-compatible',
        baseURL: `http://127.0.0.1:${port}/v1`,
        apiKeyEnv: 'LLM_KEY',
        modelId: 'llama3.1',
      },
      { env: { LLM_KEY: 'secret-from-env' } },
    );
    // Act
    const result = await model.generate({ messages: [{ role: 'user', content: 'ping' }] });
    server.close();
    // Assess
    expect(result.text).toBe('ok');
    expect(seen[0]?.authorization).toBe('Bearer secret-from-env');
  });

  it('refuses a config whose apiKeyEnv is not set', () => {
    // Act / Assess
    expect(() =>
      createModelProvider(
        {
          provider: 'openai-compatible',
          baseURL: 'http://localhost:8000/v1',
          apiKeyEnv: 'MISSING_KEY',
          modelId: 'm',
        },
        { env: {} },
      ),
    ).toThrow('model config names apiKeyEnv MISSING_KEY, but that environment variable is not set');
  });

  it('validates the config it is given', () => {
    // Act / Assess
    expect(() => createModelProvider({ provider: 'bedrock', modelId: '' } as ModelConfig)).toThrow(
      NonRetryableError,
    );
  });
});
