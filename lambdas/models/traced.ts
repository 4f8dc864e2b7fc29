/**
 * A model provider whose calls are `chat <model>` spans (OpenTelemetry GenAI: the operation, the
 * calling agent, the requested model, then the answering model and the token usage).
 */
import { GEN_AI, genAiSpanName, type Telemetry } from '../core/telemetry.js';
import type { ModelProvider } from './types.js';

export function tracedModel(model: ModelProvider, telemetry: Telemetry, agent: string): ModelProvider {
  return {
    id: model.id,
    deterministic: model.deterministic,
    generate: (req) =>
      telemetry.span(
        genAiSpanName('chat', model.id),
        { [GEN_AI.operationName]: 'chat', [GEN_AI.agentName]: agent, [GEN_AI.requestModel]: model.id },
        async (span) => {
          const res = await model.generate(req);
          span.set({
            [GEN_AI.responseModel]: res.model,
            [GEN_AI.inputTokens]: res.usage.inputTokens,
            [GEN_AI.outputTokens]: res.usage.outputTokens,
          });
          return res;
        },
      ),
  };
}
