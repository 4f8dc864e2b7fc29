/** The Planner's Lambda entry with an OpenAI-compatible endpoint (planner.ts; the AI SDK is in this bundle only). */
import { createOpenAICompatibleProvider } from '../../models/openai-compatible.js';
import { plannerFunction } from './planner.js';

export const planner = plannerFunction({ 'openai-compatible': createOpenAICompatibleProvider });
