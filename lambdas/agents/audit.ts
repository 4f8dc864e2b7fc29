/**
 * Audit records of an agent's work: every tool call becomes a `ToolCalled` event and every model
 * call a `ModelCalled` event. Event ids are deterministic (`r<run>.<Type>.<step>.<attempt>.<n>`,
 * n counting the calls of the attempt), so a retried Lambda invocation of the same attempt
 * rewrites the same ids and the store's conditional put drops the copies.
 */
import { eventId } from '../core/ids.js';
import type { Json, TaskEvent } from '../core/schemas.js';
import type { ModelCallRecord } from '../models/budget.js';
import type { GenerateRequest, GenerateResult, ModelProvider } from '../models/types.js';
import { digestArgs } from '../tools/runtime.js';
import type { ToolCallRecord } from '../tools/types.js';

/** An event an agent session or the planner records (the caller adds task, step and trace ids). */
export interface AuditEvent {
  id: string;
  type: 'ToolCalled' | 'ModelCalled';
  data: Record<string, Json>;
}

export type AuditSink = (event: AuditEvent) => Promise<void>;

/** Where a call happened: run, step (absent for the planner) and attempt. */
export interface CallSite {
  run: number;
  stepId?: string;
  attempt?: number;
}

export function callEventId(type: AuditEvent['type'], site: CallSite, n: number): string {
  return eventId({
    run: site.run,
    type,
    ...(site.stepId ? { stepId: site.stepId } : {}),
    ...(site.attempt ? { attempt: site.attempt } : {}),
    extra: String(n),
  });
}

export function toolCalledEvent(site: CallSite, n: number, r: ToolCallRecord): AuditEvent {
  return {
    id: callEventId('ToolCalled', site, n),
    type: 'ToolCalled',
    data: {
      call: n,
      ...(site.attempt ? { attempt: site.attempt } : {}),
      tool: r.tool,
      argsDigest: r.argsDigest,
      durationMs: r.durationMs,
      outcome: r.outcome,
      ...(r.error ? { error: r.error } : {}),
      startedAt: r.startedAt,
    },
  };
}

export function modelCalledEvent(
  site: CallSite,
  n: number,
  r: ModelCallRecord,
  argsDigest: string,
  tools: string[],
): AuditEvent {
  return {
    id: callEventId('ModelCalled', site, n),
    type: 'ModelCalled',
    data: {
      call: n,
      ...(site.attempt ? { attempt: site.attempt } : {}),
      model: r.model,
      argsDigest,
      tools,
      durationMs: Math.round(r.durationMs * 1000) / 1000,
      outcome: r.outcome,
      usage: { ...r.usage },
      ...(r.stopReason ? { stopReason: r.stopReason } : {}),
      ...(r.error ? { error: r.error } : {}),
      stepTokensUsed: r.stepTokensUsed,
      ...(r.taskTokensUsed !== undefined ? { taskTokensUsed: r.taskTokensUsed } : {}),
    },
  };
}

/** sha256 of a model request's messages and tool names (the audit trail never holds prompts). */
export function requestDigest(req: GenerateRequest): string {
  return digestArgs({ messages: req.messages, tools: (req.tools ?? []).map((t) => t.name) });
}

/**
 * A provider whose calls are recorded: `budgeted` is the provider wrapped by `withBudget`, whose
 * `onCall` must feed `take()` below. Calls are serialized, so each record belongs to its call.
 */
export function auditedModel(
  budgeted: ModelProvider,
  site: CallSite,
  sink: AuditSink,
): { model: ModelProvider; onCall: (r: ModelCallRecord) => void } {
  let calls = 0;
  let pending: ModelCallRecord | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const generate = async (req: GenerateRequest): Promise<GenerateResult> => {
    const n = ++calls;
    const digest = requestDigest(req);
    pending = undefined;
    try {
      return await budgeted.generate(req);
    } finally {
      const record = pending as ModelCallRecord | undefined;
      pending = undefined;
      if (record)
        await sink(
          modelCalledEvent(
            site,
            n,
            record,
            digest,
            (req.tools ?? []).map((t) => t.name),
          ),
        );
    }
  };
  return {
    model: {
      id: budgeted.id,
      deterministic: budgeted.deterministic,
      generate(req) {
        const run = queue.then(() => generate(req));
        queue = run.catch(() => undefined);
        return run;
      },
    },
    onCall: (r) => {
      pending = r;
    },
  };
}

/** Tokens the task's model calls used, from its events, leaving out those of one call site. */
export function tokensUsedByTask(
  events: readonly Pick<TaskEvent, 'id' | 'type' | 'data'>[],
  except?: CallSite,
): number {
  const skip = except ? `${callEventId('ModelCalled', except, 0).replace(/\.0$/, '')}.` : undefined;
  let total = 0;
  for (const e of events) {
    if (e.type !== 'ModelCalled' || (skip && e.id.startsWith(skip))) continue;
    const usage = (e.data as { usage?: { totalTokens?: unknown } }).usage;
    const n = Number(usage?.totalTokens ?? 0);
    if (Number.isFinite(n) && n > 0) total += n;
  }
  return total;
}
