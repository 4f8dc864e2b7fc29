/**
 * A model provider with no model behind it, for local mode, demos without credentials and tests.
 * It says so: `deterministic: true`, id `offline`, and its default reply states that no LLM was
 * called. The same request always gets the same reply. Usage is estimated (about 4 characters per
 * token) so budgets and audit events work the same way as with a real model.
 */
import { NonRetryableError } from '../core/errors.js';
import {
  type ChatMessage,
  type GenerateRequest,
  type GenerateResult,
  hasToolCalls,
  type ModelProvider,
  type Usage,
} from './types.js';

/** A scripted reply: anything left out is filled in (usage estimated, stopReason from toolCalls). */
export type OfflineResponse = Partial<GenerateResult>;

export interface OfflineProviderOptions {
  /** Replies given in order, one per call; a call after the last one fails. */
  responses?: OfflineResponse[];
  /** Computes the reply for a call (0-based `index`); used when `responses` is not given. */
  respond?: (req: GenerateRequest, index: number) => OfflineResponse | Promise<OfflineResponse>;
}

export interface OfflineProvider extends ModelProvider {
  /** The requests received, in order (for assertions). */
  readonly calls: readonly GenerateRequest[];
}

export const OFFLINE_MODEL_ID = 'offline';

/** A rough token count: one token per 4 characters, rounded up. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function estimateRequestTokens(req: GenerateRequest): number {
  let chars = 0;
  for (const m of req.messages) {
    chars += m.content.length;
    if (hasToolCalls(m)) chars += JSON.stringify(m.toolCalls).length;
  }
  if (req.tools && req.tools.length > 0) chars += JSON.stringify(req.tools).length;
  return Math.ceil(chars / 4);
}

export function createOfflineProvider(options: OfflineProviderOptions = {}): OfflineProvider {
  const calls: GenerateRequest[] = [];
  const queue = options.responses ? [...options.responses] : undefined;
  return {
    id: OFFLINE_MODEL_ID,
    deterministic: true,
    calls,
    async generate(req: GenerateRequest): Promise<GenerateResult> {
      req.signal?.throwIfAborted();
      const index = calls.length;
      calls.push(req);
      let scripted: OfflineResponse;
      if (queue) {
        const next = queue.shift();
        if (!next) {
          throw new NonRetryableError(
            `offline provider: no scripted response left for call ${index + 1} (${options.responses?.length ?? 0} given)`,
          );
        }
        scripted = next;
      } else if (options.respond) {
        scripted = await options.respond(req, index);
      } else {
        scripted = { text: defaultReply(req.messages) };
      }
      return complete(req, scripted);
    },
  };
}

function complete(req: GenerateRequest, r: OfflineResponse): GenerateResult {
  const text = r.text ?? '';
  const toolCalls = r.toolCalls ?? [];
  const usage: Usage = r.usage ?? estimateUsage(req, text, toolCalls);
  return {
    text,
    toolCalls,
    stopReason: r.stopReason ?? (toolCalls.length > 0 ? 'tool_use' : 'end'),
    usage,
    model: r.model ?? OFFLINE_MODEL_ID,
  };
}

function estimateUsage(req: GenerateRequest, text: string, toolCalls: GenerateResult['toolCalls']): Usage {
  const inputTokens = estimateRequestTokens(req);
  const outputTokens =
    estimateTokens(text) + (toolCalls.length > 0 ? estimateTokens(JSON.stringify(toolCalls)) : 0);
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

function defaultReply(messages: ChatMessage[]): string {
  const lastUser = messages.findLast((m) => m.role === 'user');
  const excerpt = lastUser ? lastUser.content.replace(/\s+/g, ' ').trim().slice(0, 200) : '';
  return [
    'Offline model: this reply is deterministic and no LLM was called.',
    `It received ${messages.length} message(s)${excerpt ? `; the last user message begins: "${excerpt}"` : ''}.`,
    'Configure a Bedrock or OpenAI-compatible model for real answers.',
  ].join(' ');
}
