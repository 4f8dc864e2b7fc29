/**
 * An agent attempt's session: the AgentContext the harness hands the agent, built from the
 * agent's settings. It holds
 * - `tools`: a ToolRuntime over the configured tools (built-ins and MCP servers) and the agent's
 *   allow-list; each call gets the step's files (upstream text artifacts, `inputs.documents`) and
 *   datasets (`inputs.datasets`), is recorded as a ToolCalled event, and a failure is rethrown
 *   through `toStepError` (Baton.NonRetryable / Baton.AgentFailed, the ToolError as `cause`);
 * - `model`: the deployment's model (or the agent's override) within the step and task token
 *   budgets; each call is recorded as a ModelCalled event;
 * - `signal`: aborted when the attempt ends or its time is up.
 * `close()` ends MCP connections and aborts whatever is still running.
 *
 * Tools and models are built with the capabilities given (`AgentCapabilities`): an agent's bundle
 * passes only the tool kinds and the model provider its settings name (lib/aws/functions.ts).
 */
import { NonRetryableError } from '../core/errors.js';
import type { AgentContext, AgentInput, ArtifactRef } from '../core/schemas.js';
import { GEN_AI, genAiSpanName, NO_TELEMETRY, type Telemetry } from '../core/telemetry.js';
import { withBudget } from '../models/budget.js';
import {
  type ModelConfig,
  type ModelFactories,
  type ModelProviderDeps,
  providerFrom,
  resolveModelConfig,
} from '../models/config.js';
import { tracedModel } from '../models/traced.js';
import type { ModelProvider } from '../models/types.js';
import type { ToolSet } from '../tools/define.js';
import { toStepError } from '../tools/errors.js';
import { buildToolSet, type ToolKinds } from '../tools/kinds.js';
import { createToolRuntime } from '../tools/runtime.js';
import type { Dataset, ToolArtifact, ToolCallRecord, ToolContext } from '../tools/types.js';
import { type AuditSink, auditedModel, type CallScope, toolCalledEvent } from './audit.js';
import type { AgentSettings } from './settings.js';
import { toToolsConfig } from './settings-core.js';

/**
 * The tool kinds and model providers an agent's tools and model are built with: every one
 * (capabilities.ts ALL_CAPABILITIES: tests, in-process runs) or an agent bundle's own.
 */
export interface AgentCapabilities {
  tools: ToolKinds;
  /** Providers that call a model (the offline provider needs none). */
  models: ModelFactories;
}

export interface AgentSessionOptions {
  input: AgentInput;
  run: number;
  /** The task's trace id, on the session's audit events. */
  traceId: string;
  settings: AgentSettings;
  /** What the tools and the model are built with. */
  capabilities: AgentCapabilities;
  /** The deployment's model (BATON_MODEL_CONFIG); the agent's `model` override is laid over it. */
  defaultModel: ModelConfig;
  providerDeps?: ModelProviderDeps;
  /** Token budget of this attempt (step input `tokenBudget`, else the agent's `budget.stepTokens`). */
  stepTokens?: number;
  /** Token budget of the whole task, and how many tokens the task used before this attempt. */
  taskTokens?: number;
  taskTokensUsed?: () => Promise<number>;
  sink: AuditSink;
  readArtifact(ref: ArtifactRef): Promise<Uint8Array>;
  log(message: string, data?: Record<string, unknown>): void;
  /** The attempt's time limit: `ctx.signal` fires after it. */
  timeoutMs?: number;
  /** Upper bound of one tool call (default: the tool runtime's, 120 s). */
  toolTimeoutMs?: number;
  /** Spans around the attempt's model and tool calls (default: none). */
  telemetry?: Telemetry;
}

export interface AgentSession {
  ctx: AgentContext;
  close(): Promise<void>;
}

/** Text-like artifacts are handed to tools (search, db); larger ones are left out. */
const MAX_TOOL_FILES_BYTES = 16 * 1024 * 1024;
const TEXT_TYPES = /^(text\/|application\/(json|xml|yaml|x-yaml|csv)|[^;]*\+json)/i;

/** The name under which the i-th (0-based) `inputs.documents` entry reaches the tools. */
export function documentFileName(i: number): string {
  return `documents/${i + 1}`;
}

/** The name under which an upstream artifact reaches the tools (unique across steps). */
export function upstreamFileName(stepId: string, name: string): string {
  return `${stepId}/${name}`;
}

/** `inputs.documents: [{ title, text }]`, the valid entries. */
export function taskDocuments(inputs: AgentInput['inputs']): { title: string; text: string }[] {
  const docs = Array.isArray(inputs.documents) ? inputs.documents : [];
  return docs.flatMap((d) =>
    d && typeof d === 'object' && !Array.isArray(d) && typeof d.text === 'string'
      ? [{ title: typeof d.title === 'string' ? d.title : 'untitled', text: d.text }]
      : [],
  );
}

/** `inputs.datasets: [{ name, contentType, body }]`, the valid entries. */
export function taskDatasets(inputs: AgentInput['inputs']): Dataset[] {
  const sets = Array.isArray(inputs.datasets) ? inputs.datasets : [];
  return sets.flatMap((d) =>
    d &&
    typeof d === 'object' &&
    !Array.isArray(d) &&
    typeof d.name === 'string' &&
    typeof d.body === 'string' &&
    (d.contentType === 'text/csv' || d.contentType === 'application/json')
      ? [{ name: d.name, contentType: d.contentType, body: d.body }]
      : [],
  );
}

/** The step's files for the tools: upstream text artifacts, then the task's documents. */
async function stepFiles(o: AgentSessionOptions): Promise<ToolArtifact[]> {
  const files: ToolArtifact[] = [];
  let bytes = 0;
  for (const up of o.input.upstream) {
    for (const ref of up.artifacts) {
      if (!TEXT_TYPES.test(ref.contentType) || bytes + ref.size > MAX_TOOL_FILES_BYTES) continue;
      const body = await o.readArtifact(ref);
      bytes += body.byteLength;
      files.push({ name: upstreamFileName(up.stepId, ref.name), contentType: ref.contentType, body });
    }
  }
  taskDocuments(o.input.inputs).forEach((d, i) => {
    files.push({ name: documentFileName(i), contentType: 'text/plain', body: d.text });
  });
  return files;
}

/** A provider that fails every call with `err` (a bad model config must not break agents that never call it). */
function failingProvider(id: string, deterministic: boolean, err: unknown): ModelProvider {
  return {
    id,
    deterministic,
    async generate() {
      throw err instanceof NonRetryableError
        ? err
        : new NonRetryableError(`the model cannot be used: ${(err as Error).message}`, { cause: err });
    },
  };
}

function makeProvider(o: AgentSessionOptions): ModelProvider {
  let config: ModelConfig;
  try {
    config = resolveModelConfig(o.defaultModel, o.settings.model);
  } catch (err) {
    return failingProvider('unconfigured', false, err);
  }
  try {
    return providerFrom(config, o.capabilities.models, o.providerDeps);
  } catch (err) {
    return failingProvider(config.provider, config.provider === 'offline', err);
  }
}

export async function openAgentSession(o: AgentSessionOptions): Promise<AgentSession> {
  const { input } = o;
  const site: CallScope = {
    taskId: input.taskId,
    traceId: o.traceId,
    run: o.run,
    stepId: input.stepId,
    attempt: input.attempt,
  };
  const controller = new AbortController();
  const timer =
    o.timeoutMs !== undefined
      ? setTimeout(
          () => controller.abort(new Error(`the attempt ran out of time (${o.timeoutMs} ms)`)),
          o.timeoutMs,
        )
      : undefined;
  timer?.unref();

  let toolset: ToolSet;
  try {
    toolset = await buildToolSet(toToolsConfig(o.settings.tools), o.capabilities.tools);
  } catch (err) {
    clearTimeout(timer);
    throw toStepError(err);
  }
  const allow = o.settings.tools.allow ?? [];
  const runtime = createToolRuntime({ allow, tools: toolset.tools });
  let files: Promise<ToolArtifact[]> | undefined;
  const datasets = taskDatasets(input.inputs);
  const toolContext = async (): Promise<ToolContext> => {
    files ??= stepFiles(o);
    return {
      taskId: input.taskId,
      stepId: input.stepId,
      signal: controller.signal,
      artifacts: await files,
      datasets,
    };
  };
  let toolCalls = 0;

  const budgeted = withBudget(makeProvider(o), {
    ...(o.stepTokens !== undefined ? { stepTokens: o.stepTokens } : {}),
    ...(o.taskTokens !== undefined ? { taskTokens: o.taskTokens, used: o.taskTokensUsed ?? (() => 0) } : {}),
    onCall: (r) => audited.onCall(r),
  });
  const audited = auditedModel(budgeted, site, o.sink);
  const telemetry = o.telemetry ?? NO_TELEMETRY;
  const agentName = input.agent;

  const ctx: AgentContext = {
    readArtifact: o.readArtifact,
    log: o.log,
    signal: controller.signal,
    // A `chat <model>` span per call (GenAI request model, then the usage once it answered).
    model: tracedModel(audited.model, telemetry, agentName),
    tools: {
      list: () => runtime.list(),
      has: (name) => runtime.has(name),
      async call(name, args) {
        const n = ++toolCalls;
        let record: ToolCallRecord | undefined;
        const once = createToolRuntime({
          allow,
          tools: toolset.tools,
          onCall: (r) => {
            record = r;
          },
          ...(o.toolTimeoutMs ? { timeoutMs: o.toolTimeoutMs } : {}),
        });
        try {
          const context = await toolContext();
          return await telemetry.span(
            genAiSpanName('execute_tool', name),
            {
              [GEN_AI.operationName]: 'execute_tool',
              [GEN_AI.agentName]: agentName,
              [GEN_AI.toolName]: name,
            },
            () => once.call(name, args, context),
          );
        } catch (err) {
          throw toStepError(err);
        } finally {
          if (record) await o.sink(toolCalledEvent(site, n, record));
        }
      },
    },
  };
  return {
    ctx,
    async close() {
      clearTimeout(timer);
      controller.abort(new Error('the attempt ended'));
      await toolset.close();
    },
  };
}

/** A step's own token budget: the step input's `tokenBudget` (a positive integer), else the agent's. */
export function stepTokenBudget(
  stepInput: Record<string, unknown>,
  settings: AgentSettings,
): number | undefined {
  const own = stepInput.tokenBudget;
  if (typeof own === 'number' && Number.isInteger(own) && own > 0) return own;
  return settings.budget.stepTokens;
}

/** The task's token budget: the task policy's `maxTokens` (when the policy has one), else the config's. */
export function taskTokenBudget(policy: unknown, settings: AgentSettings): number | undefined {
  return policyTokenBudget(policy) ?? settings.budget.taskTokens;
}

/** The task policy's own `maxTokens`, when it is a positive integer. */
export function policyTokenBudget(policy: unknown): number | undefined {
  const own = (policy as { maxTokens?: unknown } | undefined)?.maxTokens;
  return typeof own === 'number' && Number.isInteger(own) && own > 0 ? own : undefined;
}
