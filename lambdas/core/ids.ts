/** Identifiers and digests. Deterministic ids make retried writes idempotent. */
import { createHash, randomBytes } from 'node:crypto';

/** A sortable, unguessable task id: time prefix (base36 ms) + 80 random bits. */
export function newTaskId(now = Date.now()): string {
  return `t_${now.toString(36).padStart(9, '0')}${randomBytes(10).toString('hex')}`;
}

export function newTraceId(): string {
  // X-Ray format: 1-<8 hex epoch seconds>-<24 hex random>
  return `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * JSON with object keys sorted recursively, so equal values hash equally: the one canonical
 * form behind every digest (idempotency request hashes, tool and model argument digests).
 * Otherwise exactly JSON.stringify: `toJSON` is honoured (a Date is its ISO string),
 * `undefined` (and functions, symbols) in an array become `null`, object members with those
 * values are dropped. A top-level value with no JSON form (`undefined`) is `"null"`, so the
 * result is always a string to hash.
 */
export function canonicalJson(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
    ) ?? 'null'
  );
}

/**
 * The id of an event that records one fact of one run. Writing the same fact twice (a retried
 * Lambda, a duplicated message) yields the same id, and the conditional put drops the copy.
 */
export function eventId(parts: {
  run: number;
  type: string;
  stepId?: string;
  attempt?: number;
  extra?: string;
}): string {
  return [`r${parts.run}`, parts.type, parts.stepId ?? '-', parts.attempt ?? '-', parts.extra]
    .filter(Boolean)
    .join('.');
}

export function artifactId(stepId: string, attempt: number, name: string): string {
  return `a_${sha256Hex(`${stepId}\n${attempt}\n${name}`).slice(0, 24)}`;
}

export function artifactKey(taskId: string, stepId: string, attempt: number, name: string): string {
  return `tasks/${taskId}/steps/${stepId}/${attempt}/${name}`;
}

/** Lambda's limit on a function name. */
const MAX_FUNCTION_NAME = 64;
/** The longest agent name (AgentName in schemas.ts). */
const MAX_AGENT_NAME = 40;

/**
 * The prefix of every agent function's name in a stack: `<stack name>-`, or, for a stack name too
 * long to leave room for a 40-character agent name, its first 14 characters and a digest of the
 * whole (`<14>-<7 hex>-`). Deterministic, so the orchestrator derives an agent's function from
 * its name (no agent-to-ARN map in an environment capped at 4 KB).
 */
export function agentFunctionPrefix(stackName: string): string {
  const room = MAX_FUNCTION_NAME - MAX_AGENT_NAME - 1;
  const base =
    stackName.length <= room
      ? stackName
      : `${stackName.slice(0, room - 8)}-${sha256Hex(stackName).slice(0, 7)}`;
  return `${base}-`;
}

/** The function name that runs `agent` in the stack whose agent function prefix is `prefix`. */
export function agentFunctionName(prefix: string, agent: string): string {
  return `${prefix}${agent}`;
}
