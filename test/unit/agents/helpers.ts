/** Runs an agent the way the harness does (same session: tools, model, audit events), without a store. */
import { createHash } from 'node:crypto';
import type { AuditEvent } from '../../../lambdas/agents/audit.js';
import { ALL_CAPABILITIES } from '../../../lambdas/agents/capabilities.js';
import { openAgentSession } from '../../../lambdas/agents/context.js';
import { type AgentModule, checkAgentOutput, invokeAgent } from '../../../lambdas/agents/define.js';
import { resolveAgentSettings } from '../../../lambdas/agents/registry.js';
import type { AgentSettings } from '../../../lambdas/agents/settings.js';
import type {
  AgentInput,
  AgentOutput,
  ArtifactRef,
  Json,
  UpstreamResult,
} from '../../../lambdas/core/schemas.js';
import type { ModelConfig, ModelProviderDeps } from '../../../lambdas/models/index.js';

export function agentInput(over: Partial<AgentInput> & { agent: string }): AgentInput {
  return {
    taskId: 't_test',
    stepId: over.agent,
    attempt: 1,
    goal: 'test goal',
    input: {},
    inputs: {},
    upstream: [],
    ...over,
  };
}

/** An upstream step with artifacts; `bodies` holds their bytes by artifact id. */
export class Upstream {
  readonly bodies = new Map<string, Uint8Array>();
  readonly results: UpstreamResult[] = [];

  add(
    stepId: string,
    agent: string,
    artifacts: { name: string; contentType: string; body: string }[],
    extra: { summary?: string; output?: Json } = {},
  ): this {
    const refs: ArtifactRef[] = artifacts.map((a) => {
      const bytes = Buffer.from(a.body, 'utf8');
      const id = `a_${createHash('sha256').update(`${stepId}/${a.name}`).digest('hex').slice(0, 24)}`;
      this.bodies.set(id, bytes);
      return {
        id,
        stepId,
        name: a.name,
        contentType: a.contentType,
        size: bytes.byteLength,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
    });
    this.results.push({
      stepId,
      agent,
      summary: extra.summary ?? `${stepId} done`,
      ...(extra.output !== undefined ? { output: extra.output } : {}),
      artifacts: refs,
    });
    return this;
  }
}

export interface RunOptions {
  settings?: AgentSettings;
  model?: ModelConfig;
  providerDeps?: ModelProviderDeps;
  upstream?: Upstream;
  run?: number;
  stepTokens?: number;
  taskTokens?: number;
  taskTokensUsed?: number;
}

/** An audit event as a test reads it: any field of `data` by name, whatever the event's type. */
export type RecordedEvent = Omit<AuditEvent, 'data'> & { data: Record<string, unknown> };

export interface AgentRun {
  out: AgentOutput;
  events: RecordedEvent[];
}

/**
 * Runs `agent` (a definition or a bare handler) with a harness-built context, its output checked
 * as the harness checks it; on failure the error carries the events as `events`.
 */
export async function runAgent(agent: AgentModule, input: AgentInput, o: RunOptions = {}): Promise<AgentRun> {
  const events: RecordedEvent[] = [];
  const session = await openAgentSession({
    input: { ...input, upstream: o.upstream?.results ?? input.upstream },
    run: o.run ?? 1,
    traceId: 'tr_test',
    settings: o.settings ?? resolveAgentSettings(input.agent),
    capabilities: ALL_CAPABILITIES,
    defaultModel: o.model ?? { provider: 'offline' },
    ...(o.providerDeps ? { providerDeps: o.providerDeps } : {}),
    ...(o.stepTokens ? { stepTokens: o.stepTokens } : {}),
    ...(o.taskTokens ? { taskTokens: o.taskTokens, taskTokensUsed: async () => o.taskTokensUsed ?? 0 } : {}),
    sink: async (e) => {
      events.push(e);
    },
    readArtifact: async (ref) => {
      const body = o.upstream?.bodies.get(ref.id);
      if (!body) throw new Error(`no artifact ${ref.id}`);
      return body;
    },
    log: () => {},
  });
  try {
    const raw = await invokeAgent(
      agent,
      { ...input, upstream: o.upstream?.results ?? input.upstream },
      session.ctx,
    );
    const out = checkAgentOutput(input.agent, raw, agent);
    return { out, events };
  } catch (err) {
    Object.assign(err as object, { events });
    throw err;
  } finally {
    await session.close();
  }
}

export function artifactText(out: AgentOutput, name: string): string {
  const art = out.artifacts?.find((a) => a.name === name);
  if (!art) throw new Error(`no artifact ${name} in ${out.artifacts?.map((a) => a.name).join(', ')}`);
  return typeof art.body === 'string' ? art.body : Buffer.from(art.body.base64, 'base64').toString('utf8');
}

export const DOCS_DIR = new URL('../../fixtures/docs/', import.meta.url).pathname;
