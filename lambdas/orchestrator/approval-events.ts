/**
 * The audit events of an approval, written in order from wherever the approval moves (the gate
 * Lambdas, the API, a timeout). Ids are deterministic: writing one twice writes nothing.
 */
import { type ApprovalDecision, decisionEventData } from '../core/approvals.js';
import { type EventData, Events, type GateScope, type TaskEvent } from '../core/events.js';
import type { ApprovalItem, EventPort } from '../core/ports.js';

function gateScope(item: ApprovalItem, traceId: string): GateScope {
  return { taskId: item.taskId, traceId, run: item.run, stepId: item.stepId, attempt: item.attempt };
}

/** ApprovalRequested; returns the event only when this call recorded it (the first time). */
export function recordApprovalRequested(
  store: EventPort,
  item: ApprovalItem,
  traceId: string,
): Promise<TaskEvent | undefined> {
  return store.appendEvent(
    Events.approvalRequested(gateScope(item, traceId), {
      approvalId: item.id,
      kind: item.kind,
      round: item.round,
      escalation: item.round > 1,
      requestedAt: item.requestedAt,
      expiresAt: item.expiresAt,
      timeoutSeconds: item.timeoutSeconds,
      onTimeout: item.onTimeout,
      ...(item.attempt !== undefined ? { attempt: item.attempt } : {}),
      ...(item.failure ? { failure: item.failure } : {}),
    }),
  );
}

/**
 * ApprovalDecided, after making sure the request is in the trail: a crash between creating an
 * approval and announcing it, with the decision arriving before the gate asks again, would
 * otherwise leave a decision without its request.
 */
export async function recordApprovalDecided(
  store: EventPort,
  item: ApprovalItem,
  traceId: string,
  decision: ApprovalDecision,
  extra: Pick<EventData<'ApprovalDecided'>, 'escalated'> = {},
): Promise<void> {
  await recordApprovalRequested(store, item, traceId);
  await store.appendEvent(
    Events.approvalDecided(gateScope(item, traceId), {
      approvalId: item.id,
      kind: item.kind,
      round: item.round,
      ...decisionEventData(decision),
      ...extra,
    }),
  );
}
