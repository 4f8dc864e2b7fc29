/**
 * The wire between the step runner (trusted, lambdas/agents/runner.ts) and an agent function
 * (untrusted, lambdas/agents/agent-side.ts): what the runner sends in the synchronous invocation
 * and what the agent answers. The agent reaches no table, bucket, queue or state machine: the
 * request carries everything it may read (its hydrated input, presigned GETs of exactly its
 * upstream artifacts, presigned PUTs of its own upload slots) and the answer everything it
 * produced (its output, artifacts or the slots it filled, and its audit records), which the
 * runner checks before it writes anything. docs/SECURITY.md has the design.
 */
import * as z from 'zod';
import { ModelCalledData, ToolCalledData } from '../core/call-events.js';
import { AgentArtifact, AgentInput, ArtifactRef, JsonValue, LIMITS } from '../core/schemas.js';

/** Upload slots per attempt: as many as a step may have artifacts. */
export const UPLOAD_SLOTS = LIMITS.maxArtifactsPerStep;
/**
 * An artifact body up to this size travels in the answer; a larger one goes to an upload slot
 * (a synchronous Lambda response is capped at 6 MB, and base64 grows bodies by a third).
 */
export const INLINE_ARTIFACT_BYTES = 256 * 1024;
/** All inline bodies of one answer together: above it the largest go to upload slots too. */
export const INLINE_TOTAL_BYTES = 3 * 1024 * 1024;
/** Audit records in one answer, and the serialized size of each. */
export const MAX_AUDIT_RECORDS = 2000;
export const MAX_AUDIT_RECORD_BYTES = 8 * 1024;
/** How long the presigned URLs of one request are valid past the step's own timeout. */
export const URL_GRACE_SECONDS = 120;

/** An upstream artifact the agent may read: its reference and a presigned GET of exactly it. */
export const ReadableArtifact = z.object({ ref: ArtifactRef, url: z.string().url() });
export type ReadableArtifact = z.infer<typeof ReadableArtifact>;

/** What the runner sends an agent function. */
export const AgentRequest = z.object({
  /** The protocol's version: an agent bundle older than the runner refuses instead of guessing. */
  protocol: z.literal(1),
  input: AgentInput,
  run: z.number().int().min(1),
  traceId: z.string(),
  /** The step's own timeout: the agent's signal fires after it. */
  timeoutSeconds: z.number().int().min(1),
  /** The task policy's token budget, when it sets one (the agent's settings give the default). */
  taskMaxTokens: z.number().int().positive().optional(),
  /** Tokens the task's model calls used before this attempt (other steps, other attempts). */
  taskTokensUsed: z.number().min(0),
  /** Presigned GETs of the step's upstream artifacts, by artifact id. */
  readable: z.array(ReadableArtifact),
  /** Presigned PUTs under `tasks/<task>/steps/<step>/<attempt>/uploads/`, slot i at index i. */
  uploads: z.array(z.string().url()).max(UPLOAD_SLOTS),
});
export type AgentRequest = z.infer<typeof AgentRequest>;

/** An artifact the agent wrote to upload slot `upload` instead of returning its body. */
export const UploadedArtifact = AgentArtifact.omit({ body: true })
  .extend({
    upload: z
      .number()
      .int()
      .min(0)
      .max(UPLOAD_SLOTS - 1),
  })
  .strict();
export type UploadedArtifact = z.infer<typeof UploadedArtifact>;

/** One audit record: the data of a ToolCalled or ModelCalled event (the runner builds the event). */
export const AuditRecord = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ToolCalled'), data: ToolCalledData }).strict(),
  z.object({ type: z.literal('ModelCalled'), data: ModelCalledData }).strict(),
]);
export type AuditRecord = z.infer<typeof AuditRecord>;

/** Why the attempt failed: the error's name (the runner keeps only names it allows) and message. */
export const AgentFailure = z.object({ name: z.string().max(200), message: z.string().max(8000) });

/** What an agent function answers: its output (checked again by the runner) or its failure. */
export const AgentResponse = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    summary: z.unknown(),
    output: JsonValue.optional(),
    artifacts: z.array(z.union([AgentArtifact, UploadedArtifact])).max(LIMITS.maxArtifactsPerStep),
    audit: z.array(z.unknown()).max(MAX_AUDIT_RECORDS),
  }),
  z.object({
    ok: z.literal(false),
    error: AgentFailure,
    audit: z.array(z.unknown()).max(MAX_AUDIT_RECORDS),
  }),
]);
export type AgentResponse = z.infer<typeof AgentResponse>;

/** The key of upload slot `slot` of one attempt. */
export function uploadKey(taskId: string, stepId: string, attempt: number, slot: number): string {
  return `tasks/${taskId}/steps/${stepId}/${attempt}/uploads/${slot}`;
}
