/**
 * Estimated cost of a model call (the EstimatedCost metric): list prices in USD per million
 * tokens, input and output, matched by a fragment of the model id (`bedrock:anthropic.claude-…`).
 * An estimate for dashboards, not a bill: no cache, batch or regional pricing. The offline model
 * costs nothing; a model not listed gets no EstimatedCost point (rather than a wrong one).
 */
import type { CostEstimator } from '../core/metrics.js';

/** [model id fragment, USD per 1M input tokens, USD per 1M output tokens]; the first match wins. */
export const MODEL_PRICES: readonly (readonly [string, number, number])[] = [
  ['offline', 0, 0],
  ['claude-3-5-haiku', 0.8, 4],
  ['claude-3-haiku', 0.25, 1.25],
  ['claude-3-5-sonnet', 3, 15],
  ['claude-3-7-sonnet', 3, 15],
  ['claude-sonnet-4', 3, 15],
  ['claude-opus-4', 15, 75],
  ['nova-micro', 0.035, 0.14],
  ['nova-lite', 0.06, 0.24],
  ['nova-pro', 0.8, 3.2],
  ['llama3-1-8b', 0.22, 0.22],
  ['llama3-1-70b', 0.72, 0.72],
];

export const estimateModelCost: CostEstimator = (model, inputTokens, outputTokens) => {
  const price = MODEL_PRICES.find(([fragment]) => model.includes(fragment));
  if (!price) return undefined;
  return (inputTokens * price[1] + outputTokens * price[2]) / 1_000_000;
};
