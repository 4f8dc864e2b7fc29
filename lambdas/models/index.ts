/**
 * Models: the config (config.ts), every provider (Bedrock Converse, OpenAI-compatible, offline),
 * token budgets. `createModelProvider` has every provider at hand; a Lambda bundle uses
 * `providerFrom` with only its own (config.ts).
 */
import { createBedrockProvider } from './bedrock.js';
import { type ModelConfig, type ModelFactories, type ModelProviderDeps, providerFrom } from './config.js';
import { createOpenAICompatibleProvider } from './openai-compatible.js';
import type { ModelProvider } from './types.js';

export { type BedrockProviderOptions, createBedrockClient, createBedrockProvider } from './bedrock.js';
export * from './budget.js';
export * from './config.js';
export * from './errors.js';
export {
  createOfflineProvider,
  estimateTokens,
  type OfflineProvider,
  type OfflineProviderOptions,
  type OfflineResponse,
} from './offline.js';
export { createOpenAICompatibleProvider, type OpenAICompatibleProviderOptions } from './openai-compatible.js';
export * from './types.js';

/** Every provider's factory. */
export const MODEL_PROVIDERS = {
  bedrock: createBedrockProvider,
  'openai-compatible': createOpenAICompatibleProvider,
} as const satisfies Required<ModelFactories>;

export function createModelProvider(config: ModelConfig, deps: ModelProviderDeps = {}): ModelProvider {
  return providerFrom(config, MODEL_PROVIDERS, deps);
}
