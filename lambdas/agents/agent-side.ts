/**
 * What an agent function runs around the agent's own handler: it takes the step runner's request
 * (protocol.ts), gives the agent its tools and model (context.ts), runs it, and answers with the
 * output, the artifacts (inline, or written to the upload slots the runner presigned) and the
 * audit records of its tool and model calls. It holds no AWS permissions and writes nothing but
 * its upload slots: the runner (runner.ts) checks the answer and does every write.
 */
import { AgentFailedError, BatonError, ContractViolationError, describeError } from '../core/errors.js';
import { LIMITS } from '../core/schemas.js';
import type { Telemetry } from '../core/telemetry.js';
import type { ModelConfig, ModelProviderDeps } from '../models/config.js';
import { ToolError, toStepError } from '../tools/errors.js';
import type { AuditEvent } from './audit.js';
import {
  type AgentCapabilities,
  type AgentSession,
  openAgentSession,
  stepTokenBudget,
  taskTokenBudget,
} from './context.js';
import { type AgentModule, checkAgentOutput, invokeAgent } from './define.js';
import {
  AgentRequest,
  type AgentResponse,
  type AuditRecord,
  INLINE_ARTIFACT_BYTES,
  INLINE_TOTAL_BYTES,
  type UploadedArtifact,
} from './protocol.js';
import type { AgentSettings } from './settings.js';

/** Where agents' tools and models come from; the Lambda wiring reads them from env and config. */
export interface AgentRuntimeDeps {
  /** The agent's resolved settings (tools, model override, budgets). */
  settingsFor(agent: string): AgentSettings;
  /** The deployment's model config. */
  defaultModel(): ModelConfig;
  /** Clients and fetch for the model providers (tests inject mocks here). */
  providerDeps?: ModelProviderDeps;
  /** The tool kinds and model providers at hand (an agent bundle: its own; capabilities.ts: all). */
  capabilities: AgentCapabilities;
}

export interface AgentSideDeps {
  runtime: AgentRuntimeDeps;
  /** Reads and writes the presigned URLs (default: global fetch). */
  fetch?: typeof fetch;
  log?: (line: Record<string, unknown>) => void;
  /** Spans around the agent's model and tool calls (the agent function: X-Ray subsegments). */
  telemetry?: Telemetry;
}

/**
 * Serves one request of the runner with `agent` (a defineAgent definition or a bare handler).
 * The agent's own failure is an answer (`ok: false`, with the audit records made before it); a
 * request that is not one of the runner's throws ContractViolationError.
 */
export async function serveAgentRequest(
  agentName: string,
  agent: AgentModule,
  raw: unknown,
  deps: AgentSideDeps,
): Promise<AgentResponse> {
  const parsed = AgentRequest.safeParse(raw);
  if (!parsed.success)
    throw new ContractViolationError(`Agent "${agentName}" got a request that is not the step runner's`, {
      cause: parsed.error,
    });
  const req = parsed.data;
  if (req.input.agent !== agentName)
    throw new ContractViolationError(`Agent "${agentName}" was asked to run as "${req.input.agent}"`);
  const http = deps.fetch ?? fetch;
  const { runtime } = deps;
  const settings = runtime.settingsFor(agentName);
  const audit: AuditRecord[] = [];
  const record = async (e: AuditEvent) => {
    audit.push({ type: e.type, data: e.data } as AuditRecord);
  };
  const readable = new Map(req.readable.map((r) => [r.ref.id, r]));
  const { input } = req;

  let session: AgentSession;
  try {
    session = await openAgentSession({
      input,
      run: req.run,
      traceId: req.traceId,
      settings,
      capabilities: runtime.capabilities,
      defaultModel: runtime.defaultModel(),
      ...(runtime.providerDeps ? { providerDeps: runtime.providerDeps } : {}),
      ...optional('stepTokens', stepTokenBudget(input.input, settings)),
      ...optional('taskTokens', taskTokenBudget({ maxTokens: req.taskMaxTokens }, settings)),
      taskTokensUsed: async () => req.taskTokensUsed,
      sink: record,
      readArtifact: async (ref) => {
        const known = readable.get(ref.id);
        if (!known)
          throw new ContractViolationError(
            `Artifact ${ref.id} is not an upstream artifact of ${input.stepId}`,
          );
        const res = await http(known.url);
        if (!res.ok)
          throw new AgentFailedError(`Could not read artifact ${known.ref.name} (HTTP ${res.status})`);
        return new Uint8Array(await res.arrayBuffer());
      },
      log: (message, data) =>
        deps.log?.({
          level: 'info',
          message,
          taskId: input.taskId,
          stepId: input.stepId,
          attempt: input.attempt,
          ...data,
        }),
      timeoutMs: req.timeoutSeconds * 1000,
      ...(deps.telemetry ? { telemetry: deps.telemetry } : {}),
    });
  } catch (err) {
    return failed(err, audit);
  }
  try {
    const out = checkAgentOutput(agentName, await invokeAgent(agent, input, session.ctx), agent);
    const artifacts = await placeArtifacts(out.artifacts ?? [], req.uploads, http);
    return {
      ok: true,
      summary: out.summary,
      ...(out.output !== undefined ? { output: out.output } : {}),
      artifacts,
      audit,
    };
  } catch (err) {
    return failed(err, audit);
  } finally {
    await session.close();
  }
}

type Artifact = NonNullable<ReturnType<typeof checkAgentOutput>['artifacts']>[number];

/**
 * Small artifacts travel inline; one over INLINE_ARTIFACT_BYTES, or past INLINE_TOTAL_BYTES of
 * inline bodies (the smallest are taken inline first), is PUT to the next upload slot.
 */
async function placeArtifacts(
  artifacts: Artifact[],
  slots: readonly string[],
  http: typeof fetch,
): Promise<(Artifact | UploadedArtifact)[]> {
  const sized = artifacts.map((art) => {
    const bytes =
      typeof art.body === 'string'
        ? Buffer.byteLength(art.body, 'utf8')
        : Math.floor((art.body.base64.length * 3) / 4);
    if (bytes > LIMITS.maxArtifactBytes)
      throw new ContractViolationError(
        `Artifact ${art.name} is ${bytes} bytes; the limit is ${LIMITS.maxArtifactBytes}`,
      );
    return { art, bytes };
  });
  const byInlineOrder = [...sized].sort((a, b) => a.bytes - b.bytes);
  const upload = new Set<Artifact>();
  let inline = 0;
  for (const { art, bytes } of byInlineOrder) {
    if (bytes > INLINE_ARTIFACT_BYTES || inline + bytes > INLINE_TOTAL_BYTES) upload.add(art);
    else inline += bytes;
  }
  let slot = 0;
  const placed: (Artifact | UploadedArtifact)[] = [];
  for (const { art } of sized) {
    if (!upload.has(art)) {
      placed.push(art);
      continue;
    }
    const url = slots[slot];
    if (url === undefined) throw new ContractViolationError('More large artifacts than upload slots');
    const body =
      typeof art.body === 'string' ? Buffer.from(art.body, 'utf8') : Buffer.from(art.body.base64, 'base64');
    const res = await http(url, { method: 'PUT', body, headers: { 'content-type': art.contentType } });
    if (!res.ok) throw new AgentFailedError(`Could not upload artifact ${art.name} (HTTP ${res.status})`);
    placed.push({ name: art.name, contentType: art.contentType, upload: slot });
    slot += 1;
  }
  return placed;
}

function failed(err: unknown, audit: AuditRecord[]): AgentResponse {
  const e = asAgentError(err);
  return { ok: false, error: { name: e.name, message: e.message.slice(0, 8000) }, audit };
}

/**
 * Keeps a thrown error's name (Step Functions matches on it); a tool's own error becomes
 * NonRetryable or AgentFailed by its `retryable`; anything else becomes AgentFailed.
 */
export function asAgentError(err: unknown): Error {
  if (err instanceof ToolError) return toStepError(err);
  if (err instanceof Error && (err instanceof BatonError || err.name.startsWith('Baton.'))) return err;
  const { name, message } = describeError(err);
  return new AgentFailedError(`${name}: ${message}`, { cause: err });
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}
