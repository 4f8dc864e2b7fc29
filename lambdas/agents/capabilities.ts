/**
 * Every capability an agent may be given: every built-in tool kind and every model provider.
 * Tests and in-process runs use it; an agent's Lambda bundle imports only its own instead (the
 * entry lib/aws/functions.ts `agentEntryFile` generates), so it carries nothing else.
 */
import { MODEL_PROVIDERS } from '../models/index.js';
import { BUILTIN_TOOLS } from '../tools/index.js';
import type { AgentCapabilities } from './context.js';

export const ALL_CAPABILITIES: AgentCapabilities = { tools: BUILTIN_TOOLS, models: MODEL_PROVIDERS };
