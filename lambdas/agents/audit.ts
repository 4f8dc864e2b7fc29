/**
 * Audit records of an agent's work: every tool call becomes a `ToolCalled` event and every model
 * call a `ModelCalled` event. Event ids are deterministic (`r<run>.<Type>.<step>.<attempt>.<n>`,
 * n counting the calls of the attempt; see `Events` in lambdas/core/events.ts), so a retried
 * Lambda invocation of the same attempt rewrites the same ids and the store's conditional put
 * drops the copies.
 */
// The call events' own module, not events.ts: an agent bundle carries no other event's schema.
import {
  type CallScope,
  type CallSite,
  callEventIdPrefix,
  modelCalled,
  toolCalled,
} from '../core/call-events.js';
import type { NewEvent, NewEventOf } from '../core/events.js';
import type { ModelCallRecord } from '../models/budget.js';
import type { GenerateRequest, GenerateResult, ModelProvider } from '../models/types.js';
import { digestArgs } from '../tools/runtime.js';
import type { ToolCallRecord } from '../tools/types.js';

/** An event an agent session or the planner records. */
export type AuditEvent = NewEventOf<'ToolCalled'> | NewEventOf<'ModelCalled'>;

export type AuditSink = (event: AuditEvent) => Promise<void>;

export type { CallScope, CallSite };

export function toolCalledEvent(site: CallScope, n: number, r: ToolCallRecord): AuditEvent {
  return toolCalled(site, {
    call: n,
    ...(site.attempt ? { attempt: site.attempt } : {}),
    tool: r.tool,
    argsDigest: r.argsDigest,
    durationMs: r.durationMs,
    outcome: r.outcome,
    ...(r.error ? { error: r.error } : {}),
    startedAt: r.startedAt,
  });
}

export function modelCalledEvent(
  site: CallScope,
  n: number,
  r: ModelCallRecord,
  argsDigest: string,
  tools: string[],
): AuditEvent {
  return modelCalled(site, {
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
  });
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
  site: CallScope,
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
export function tokensUsedByTask(events: readonly NewEvent[], except?: CallSite): number {
  const skip = except ? callEventIdPrefix('ModelCalled', except) : undefined;
  let total = 0;
  for (const e of events) {
    if (e.type !== 'ModelCalled' || (skip && e.id.startsWith(skip))) continue;
    const n = e.data.usage.totalTokens;
    if (Number.isFinite(n) && n > 0) total += n;
  }
  return total;
}
