/**
 * Which model an agent talks to, without any provider's implementation: the zod-validated config,
 * a deployment default with per-agent overrides, and `providerFrom`, which turns a config into a
 * ModelProvider with the provider factories at hand. `MODEL_PROVIDERS` (index.ts) holds every
 * factory; a function's bundle imports only the provider it is configured with
 * (`MODEL_PROVIDER_MODULES`; lib/aws/functions.ts), and none for the offline provider.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import * as z from 'zod';
import { NonRetryableError } from '../core/errors.js';
import type { BedrockProviderOptions } from './bedrock.js';
import { createOfflineProvider } from './offline.js';
import type { OpenAICompatibleProviderOptions } from './openai-compatible.js';
import type { ModelProvider } from './types.js';

const EnvVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'use an environment variable name');

export const BedrockModelConfig = z
  .object({
    provider: z.literal('bedrock'),
    /** A model id or inference profile id/ARN, e.g. `us.anthropic.claude-3-5-haiku-20241022-v1:0`. */
    modelId: z.string().min(1).max(2048),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'use an AWS region such as us-east-1')
      .optional(),
  })
  .strict();

export const OpenAICompatibleModelConfig = z
  .object({
    provider: z.literal('openai-compatible'),
    /** Up to and without `/chat/completions`, e.g. `http://localhost:8000/v1`. */
    baseURL: z.url({ protocol: /^https?$/, error: 'use an http(s) URL such as http://localhost:8000/v1' }),
    /** The key itself. Prefer `apiKeyEnv` so the key stays out of configs and events. */
    apiKey: z.string().min(1).optional(),
    /** The environment variable that holds the key. */
    apiKeyEnv: EnvVarName.optional(),
    modelId: z.string().min(1).max(512),
  })
  .strict()
  .refine((c) => !(c.apiKey && c.apiKeyEnv), {
    message: 'give apiKey or apiKeyEnv, not both',
    path: ['apiKeyEnv'],
  });

export const OfflineModelConfig = z.object({ provider: z.literal('offline') }).strict();

export const ModelConfig = z.discriminatedUnion('provider', [
  BedrockModelConfig,
  OpenAICompatibleModelConfig,
  OfflineModelConfig,
]);
export type ModelConfig = z.infer<typeof ModelConfig>;

/**
 * A per-agent override: a whole config (another provider), or some fields of the default's
 * provider (e.g. only `modelId`).
 */
export const ModelConfigOverride = z
  .object({
    provider: z.enum(['bedrock', 'openai-compatible', 'offline']).optional(),
    modelId: z.string().optional(),
    region: z.string().optional(),
    baseURL: z.string().optional(),
    apiKey: z.string().optional(),
    apiKeyEnv: z.string().optional(),
  })
  .strict();
export type ModelConfigOverride = z.infer<typeof ModelConfigOverride>;

/** Used when a deployment configures no model: honest, deterministic, needs no credentials. */
export const DEFAULT_MODEL_CONFIG: ModelConfig = Object.freeze({ provider: 'offline' });

/** The environment variable holding the deployment default (JSON of a ModelConfig). */
export const MODEL_CONFIG_ENV = 'BATON_MODEL_CONFIG';

/** Validates a model config; a bad one is a NonRetryableError saying what to fix. */
export function parseModelConfig(value: unknown, what = 'model config'): ModelConfig {
  const result = ModelConfig.safeParse(value);
  if (result.success) return result.data;
  throw new NonRetryableError(`invalid ${what}: ${z.prettifyError(result.error).replace(/\n/g, ' ')}`, {
    cause: result.error,
  });
}

/** The deployment default from `BATON_MODEL_CONFIG` (JSON), or the offline provider when unset. */
export function modelConfigFromEnv(env: Record<string, string | undefined> = process.env): ModelConfig {
  const raw = env[MODEL_CONFIG_ENV]?.trim();
  if (!raw) return DEFAULT_MODEL_CONFIG;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new NonRetryableError(`${MODEL_CONFIG_ENV} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseModelConfig(value, MODEL_CONFIG_ENV);
}

/**
 * The model an agent uses: the deployment default, unless the agent overrides it. An override
 * naming another provider replaces the default; otherwise its fields are laid over the default's.
 */
export function resolveModelConfig(
  deploymentDefault: ModelConfig,
  agentOverride?: ModelConfigOverride | ModelConfig | null,
): ModelConfig {
  const base = parseModelConfig(deploymentDefault, 'deployment model config');
  if (!agentOverride) return base;
  const override = ModelConfigOverride.safeParse(agentOverride);
  if (!override.success) {
    throw new NonRetryableError(
      `invalid agent model override: ${z.prettifyError(override.error).replace(/\n/g, ' ')}`,
    );
  }
  const fields = Object.fromEntries(Object.entries(override.data).filter(([, v]) => v !== undefined));
  if (Object.keys(fields).length === 0) return base;
  if (fields.provider && fields.provider !== base.provider)
    return parseModelConfig(fields, 'agent model override');
  return parseModelConfig({ ...base, ...fields }, 'agent model config (default + override)');
}

export interface ModelProviderDeps {
  /** Where `apiKeyEnv` is looked up. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** A Bedrock client to use instead of the module's shared one (tests, custom endpoints). */
  bedrockClient?: BedrockRuntimeClient;
  /** The fetch used by OpenAI-compatible providers. */
  fetch?: typeof globalThis.fetch;
}

/** Factories of the providers that call a model, by config `provider` (offline needs none). */
export interface ModelFactories {
  bedrock?: (options: BedrockProviderOptions) => ModelProvider;
  'openai-compatible'?: (options: OpenAICompatibleProviderOptions) => ModelProvider;
}
export type ModelProviderName = keyof ModelFactories;

/** Where each factory is defined (module relative to the project root, and its export). */
export const MODEL_PROVIDER_MODULES = {
  bedrock: { path: 'lambdas/models/bedrock.ts', exportName: 'createBedrockProvider' },
  'openai-compatible': {
    path: 'lambdas/models/openai-compatible.ts',
    exportName: 'createOpenAICompatibleProvider',
  },
} as const satisfies Record<ModelProviderName, { path: string; exportName: string }>;

/**
 * The provider of `config`, made by its factory in `factories`. A provider whose factory is not
 * at hand (a bundle built for another model config) fails for good, naming both.
 */
export function providerFrom(
  config: ModelConfig,
  factories: ModelFactories,
  deps: ModelProviderDeps = {},
): ModelProvider {
  const c = parseModelConfig(config);
  if (c.provider === 'offline') return createOfflineProvider();
  const factory = factories[c.provider];
  if (!factory) {
    const present = Object.keys(factories).join(', ') || 'none but offline';
    throw new NonRetryableError(
      `the model config names the ${c.provider} provider, but this bundle was built without it (it has: ${present}); synthesize and deploy again with the same model config`,
    );
  }
  switch (c.provider) {
    case 'bedrock':
      return (factory as NonNullable<ModelFactories['bedrock']>)({
        modelId: c.modelId,
        ...(c.region ? { region: c.region } : {}),
        ...(deps.bedrockClient ? { client: deps.bedrockClient } : {}),
      });
    case 'openai-compatible': {
      let apiKey = c.apiKey;
      if (c.apiKeyEnv) {
        apiKey = (deps.env ?? process.env)[c.apiKeyEnv];
        if (!apiKey) {
          throw new NonRetryableError(
            `model config names apiKeyEnv ${c.apiKeyEnv}, but that environment variable is not set`,
          );
        }
      }
      return (factory as NonNullable<ModelFactories['openai-compatible']>)({
        baseURL: c.baseURL,
        modelId: c.modelId,
        ...(apiKey ? { apiKey } : {}),
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      });
    }
  }
}
