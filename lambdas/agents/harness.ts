/**
 * The agent harness: what every agent Lambda runs around the agent's own handler. It hydrates
 * the agent input from the store (only references travel through the execution), validates
 * both sides of the contract, gives the agent its tools and model (context.ts; every call an
 * audit event), stores artifacts in S3, and records the attempt.
 */

import type { ArtifactStore } from '../adapters/artifacts.js';
import { AgentFailedError, BatonError, ContractViolationError, describeError } from '../core/errors.js';
import { Events } from '../core/events.js';
import type { ArtifactPort, EventPort, ResultPort, StoredArtifact, TaskPort } from '../core/ports.js';
import { AgentInput, type ArtifactRef, type Json, LIMITS, type UpstreamResult } from '../core/schemas.js';
import { AgentContract, type AgentResult } from '../core/states.js';
import { type ModelConfig, type ModelProviderDeps, modelConfigFromEnv } from '../models/index.js';
import { ToolError, toStepError } from '../tools/errors.js';
import { tokensUsedByTask } from './audit.js';
import { type AgentSession, openAgentSession, stepTokenBudget, taskTokenBudget } from './context.js';
import { type AgentModule, checkAgentOutput, invokeAgent } from './define.js';
import { resolveAgentSettings } from './registry.js';
import type { AgentSettings } from './settings.js';

export interface HarnessDeps {
  /** Data plane only: an agent's function reaches no task tokens, approvals or idempotency keys. */
  store: TaskPort & EventPort & ResultPort & ArtifactPort;
  artifacts: ArtifactStore;
  log?: (line: Record<string, unknown>) => void;
  /** Tools and models of the agents; default DEFAULT_AGENT_RUNTIME. */
  agentRuntime?: AgentRuntimeDeps;
}

/** What the agent Lambda returns to RunAgent / RunFallback (`AgentResult` in core/states.ts). */
export type HarnessResult = AgentResult;

/**
 * Runs one attempt of one step with `agent` (a defineAgent definition or a bare handler). Throws
 * (with the agent's error name) if the attempt fails; output that breaks the agent contract or
 * the definition's output schema is a ContractViolationError.
 */
export async function runAgentStep(
  deps: HarnessDeps,
  agentName: string,
  agent: AgentModule,
  raw: unknown,
): Promise<HarnessResult> {
  const inv = AgentContract.input.parse(raw);
  const { store } = deps;
  const [task, plan, results] = await Promise.all([
    store.getTask(inv.taskId),
    store.getPlan(inv.taskId),
    store.getResults(inv.taskId),
  ]);
  const step = plan?.steps.find((s) => s.id === inv.stepId);
  if (!task || !plan || !step) {
    throw new ContractViolationError(`Step ${inv.stepId} of task ${inv.taskId} does not exist`);
  }
  if (results.get(step.id)?.status === 'SUCCEEDED') {
    return { stepId: step.id, attempt: inv.attempt, agent: agentName, alreadyDone: true };
  }
  const scope = {
    taskId: task.taskId,
    traceId: task.traceId,
    run: inv.run,
    stepId: step.id,
    attempt: inv.attempt,
  };
  await store.appendEvent(
    Events.stepStarted(scope, { attempt: inv.attempt, agent: agentName, run: inv.run }),
  );

  const upstream: UpstreamResult[] = step.dependsOn.map((dep) => {
    const r = results.get(dep);
    return {
      stepId: dep,
      agent: r?.agent ?? plan.steps.find((s) => s.id === dep)?.agent ?? 'unknown',
      summary: r?.summary ?? '',
      ...(r?.output !== undefined ? { output: r.output } : {}),
      artifacts: r?.artifacts ?? [],
    };
  });
  const input = AgentInput.parse({
    taskId: task.taskId,
    stepId: step.id,
    attempt: inv.attempt,
    agent: agentName,
    goal: task.goal,
    input: step.input,
    inputs: await store.getInputs(task.taskId),
    upstream,
    ...(inv.failure ? { failure: inv.failure } : {}),
  });

  const readable = new Map<string, ArtifactRef>(upstream.flatMap((u) => u.artifacts.map((a) => [a.id, a])));
  const runtime = deps.agentRuntime ?? DEFAULT_AGENT_RUNTIME;
  const settings = runtime.settingsFor(agentName);
  const taskTokens = taskTokenBudget(task.policy, settings);
  const site = { run: inv.run, stepId: step.id, attempt: inv.attempt };
  let session: AgentSession;
  try {
    session = await openAgentSession({
      input,
      run: inv.run,
      traceId: task.traceId,
      settings,
      defaultModel: runtime.defaultModel(),
      ...(runtime.providerDeps ? { providerDeps: runtime.providerDeps } : {}),
      ...optional('stepTokens', stepTokenBudget(step.input, settings)),
      ...optional('taskTokens', taskTokens),
      taskTokensUsed: async () => tokensUsedByTask(await store.allEvents(task.taskId), site),
      sink: async (e) => {
        await store.appendEvent(e);
      },
      readArtifact: async (ref) => {
        const known = readable.get(ref.id);
        const stored = known ? await store.getArtifact(task.taskId, known.id) : undefined;
        if (!stored)
          throw new ContractViolationError(`Artifact ${ref.id} is not an upstream artifact of ${step.id}`);
        return deps.artifacts.get(stored.s3Key);
      },
      log: (message, data) =>
        deps.log?.({
          level: 'info',
          message,
          taskId: task.taskId,
          stepId: step.id,
          attempt: inv.attempt,
          ...data,
        }),
      timeoutMs: step.timeoutSeconds * 1000,
    });
  } catch (err) {
    throw asAgentError(err);
  }
  let rawOut: unknown;
  try {
    rawOut = await invokeAgent(agent, input, session.ctx);
  } catch (err) {
    throw asAgentError(err);
  } finally {
    await session.close();
  }
  const out = checkAgentOutput(agentName, rawOut, agent);

  // Every artifact is checked before any is stored, then they are stored concurrently.
  const bodies = (out.artifacts ?? []).map((art) => {
    const body =
      typeof art.body === 'string' ? Buffer.from(art.body, 'utf8') : Buffer.from(art.body.base64, 'base64');
    if (body.byteLength > LIMITS.maxArtifactBytes) {
      throw new ContractViolationError(
        `Artifact ${art.name} is ${body.byteLength} bytes; the limit is ${LIMITS.maxArtifactBytes}`,
      );
    }
    return { art, body };
  });
  const stored: StoredArtifact[] = await Promise.all(
    bodies.map(async ({ art, body }) => {
      const meta = await deps.artifacts.put({
        taskId: task.taskId,
        stepId: step.id,
        attempt: inv.attempt,
        name: art.name,
        contentType: art.contentType,
        body,
      });
      await store.putArtifact(task.taskId, meta);
      await store.appendEvent(
        Events.artifactStored(scope, {
          artifactId: meta.id,
          name: meta.name,
          contentType: meta.contentType,
          size: meta.size,
          sha256: meta.sha256,
        }),
      );
      return meta;
    }),
  );
  await store.putAttempt(task.taskId, {
    stepId: step.id,
    run: inv.run,
    attempt: inv.attempt,
    agent: agentName,
    summary: out.summary,
    ...(out.output !== undefined ? { output: out.output as Json } : {}),
    artifacts: stored.map(({ s3Key: _k, attempt: _a, ...ref }) => ref),
    at: new Date().toISOString(),
  });
  return { stepId: step.id, attempt: inv.attempt, agent: agentName };
}

/**
 * Keeps a thrown error's name (Step Functions matches on it); a tool's own error becomes
 * NonRetryable or AgentFailed by its `retryable`; anything else becomes AgentFailed.
 */
function asAgentError(err: unknown): Error {
  if (err instanceof ToolError) return toStepError(err);
  if (err instanceof Error && (err instanceof BatonError || err.name.startsWith('Baton.'))) return err;
  const { name, message } = describeError(err);
  return new AgentFailedError(`${name}: ${message}`, { cause: err });
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}

/** Where agents' tools and models come from; the Lambda wiring reads them from env and config. */
export interface AgentRuntimeDeps {
  /** The agent's resolved settings (tools, model override, budgets). */
  settingsFor(agent: string): AgentSettings;
  /** The deployment's model config. */
  defaultModel(): ModelConfig;
  /** Clients and fetch for the model providers (tests inject mocks here). */
  providerDeps?: ModelProviderDeps;
}

/** Built-in defaults for the tools, BATON_MODEL_CONFIG for the model. */
export const DEFAULT_AGENT_RUNTIME: AgentRuntimeDeps = {
  settingsFor: (agent) => resolveAgentSettings(agent),
  defaultModel: () => modelConfigFromEnv(),
};
