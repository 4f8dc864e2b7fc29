/**
 * The call events of the audit trail, `ToolCalled` and `ModelCalled`: their data schemas, their
 * constructors and their id prefixes, and the envelope every event's constructor fills
 * (`buildEvent`). A module of their own so that an agent bundle, which records calls and no
 * other event, carries them without every other event's schema: lambdas/core/events.ts takes
 * them from here into `EVENT_DATA`, `TaskEvent` and `Events`, and re-exports what it took, so
 * the rest of the code imports events.ts alone. Pure: no I/O, no AWS SDK.
 */
import * as z from 'zod';
import type { EventData, NewEventOf, TaskScope } from './events.js';
import { eventId } from './ids.js';
import { ErrorInfo, type EventType } from './schemas.js';

const Attempt = z.number().int();

/** The data of a ToolCalled event: one tool call of an attempt (or of the planner). */
export const ToolCalledData = z.object({
  /** 1-based number of the call in its attempt (the id's last part). */
  call: z.number().int(),
  attempt: Attempt.optional(),
  tool: z.string(),
  argsDigest: z.string(),
  durationMs: z.number(),
  outcome: z.enum(['ok', 'error']),
  error: ErrorInfo.optional(),
  startedAt: z.string(),
});

/** The data of a ModelCalled event: one model call of an attempt (or of the planner). */
export const ModelCalledData = z.object({
  call: z.number().int(),
  attempt: Attempt.optional(),
  model: z.string(),
  /** sha256 of the request's messages and tool names: the trail never holds prompts. */
  argsDigest: z.string(),
  tools: z.array(z.string()),
  durationMs: z.number(),
  outcome: z.enum(['ok', 'over_budget', 'refused', 'error']),
  usage: z.object({
    inputTokens: z.number(),
    outputTokens: z.number(),
    totalTokens: z.number(),
  }),
  stopReason: z.enum(['end', 'tool_use', 'max_tokens', 'other']).optional(),
  error: ErrorInfo.optional(),
  stepTokensUsed: z.number(),
  taskTokensUsed: z.number().optional(),
});

/** Where a tool or model call happened: run, step (absent for the planner) and attempt. */
export interface CallSite {
  run: number;
  stepId?: string;
  attempt?: number;
  /** A call made for one item of a fan-out step: its index and the item's attempt. */
  item?: { index: number; attempt: number };
}
export type CallScope = CallSite & Omit<TaskScope, 'run'>;

/** The parts of an event's id besides its run and type (see `eventId`). */
export interface IdParts {
  stepId?: string;
  attempt?: number;
  extra?: string;
  /** An item event's index (on the envelope; also part of the id through `extra`). */
  item?: number;
}

/** An event of `type` with its envelope filled: id, type, task, step, item, trace. */
export function buildEvent<T extends EventType>(
  type: T,
  scope: TaskScope,
  parts: IdParts,
  data: EventData<T>,
): NewEventOf<T> {
  return {
    id: eventId({ run: scope.run, type, ...parts }),
    type,
    taskId: scope.taskId,
    ...(parts.stepId !== undefined ? { stepId: parts.stepId } : {}),
    ...(parts.item !== undefined ? { item: parts.item } : {}),
    traceId: scope.traceId,
    data,
  };
}

/** Calls are numbered per attempt; the planner's calls have neither step nor attempt. */
function callParts(s: CallSite, call: number): IdParts {
  return {
    ...(s.stepId ? { stepId: s.stepId } : {}),
    ...(s.attempt ? { attempt: s.attempt } : {}),
    // An item's calls: numbered per item attempt (`i<index>a<attempt>.<n>`), item events.
    ...(s.item ? { item: s.item.index } : {}),
    extra: s.item ? `i${s.item.index}a${s.item.attempt}.${call}` : String(call),
  };
}

/** `Events.toolCalled`: the ToolCalled event of call `data.call` at `s`. */
export const toolCalled = (s: CallScope, data: EventData<'ToolCalled'>) =>
  buildEvent('ToolCalled', s, callParts(s, data.call), data);
/** `Events.modelCalled`: the ModelCalled event of call `data.call` at `s`. */
export const modelCalled = (s: CallScope, data: EventData<'ModelCalled'>) =>
  buildEvent('ModelCalled', s, callParts(s, data.call), data);

/** The id prefix (ending in ".") of every call event of one call site. */
export function callEventIdPrefix(type: 'ToolCalled' | 'ModelCalled', site: CallSite): string {
  const { extra: _n, item: _i, ...parts } = callParts(site, 0);
  // The prefix ends before the call's number (an item's calls keep their `i<index>a<attempt>.`).
  const itemPart = site.item ? `i${site.item.index}a${site.item.attempt}.` : '';
  return `${eventId({ run: site.run, type, ...parts })}.${itemPart}`;
}
