/**
 * The one interface every tool implements, built-in or MCP. Tools are plain objects: a name, a
 * description and a zod input schema (for validation and the JSON schema shown to models), and a
 * handler that receives validated input plus the context of the step that calls it.
 */
import type * as z from 'zod';

/** A table of data a step may query with the db tool (task `inputs.datasets` or an upstream artifact). */
export interface Dataset {
  name: string;
  contentType: 'text/csv' | 'application/json';
  body: string;
}

/** A file the step can see: an upstream artifact or an input file. */
export interface ToolArtifact {
  name: string;
  contentType: string;
  body: Uint8Array | string;
}

export interface ToolContext {
  taskId: string;
  stepId: string;
  /** Aborted when the step is cancelled or the call times out; tools stop work when it fires. */
  signal?: AbortSignal;
  /** Where files come from: the step's upstream artifacts (search, db). */
  artifacts?: ToolArtifact[];
  /** Tables for the db tool, usually from the task's `inputs.datasets`. */
  datasets?: Dataset[];
}

/** A JSON Schema object (as sent to a model in a tool definition). */
export type JsonSchema = Record<string, unknown>;

export interface Tool<I = unknown, O = unknown> {
  name: string;
  description: string;
  /** Validates raw arguments before the handler sees them. */
  inputSchema: z.ZodType<I>;
  /**
   * The JSON schema shown to models. Optional: derived from `inputSchema` when absent. MCP tools
   * set it to the server's own schema, which is authoritative.
   */
  jsonSchema?: JsonSchema;
  handler(input: I, ctx: ToolContext): Promise<O>;
}

/** What a model needs to call a tool: the same shape Bedrock / OpenAI tool definitions use. */
export interface ToolDefinition {
  name: string;
  description: string;
  inputSchema: JsonSchema;
}

/** The audit record of one tool call (refused, failed or successful). */
export interface ToolCallRecord {
  tool: string;
  /** sha256 (hex) of the canonical JSON of the raw arguments: object keys sorted, no whitespace. */
  argsDigest: string;
  durationMs: number;
  outcome: 'ok' | 'error';
  error?: { name: string; message: string };
  taskId: string;
  stepId: string;
  /** ISO time the call started. */
  startedAt: string;
}
