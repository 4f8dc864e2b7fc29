/**
 * The zod contracts of the built-in agents: each one's step input and the `output` it returns.
 * Agents parse their input with these (a bad input is a NonRetryableError that names the field);
 * the planner checks the inputs of the plans it makes against them before a plan is accepted.
 */
import { z } from 'zod';
import { JsonObject } from '../core/schemas.js';
import { BaseInput } from './common.js';

/* ------------------------------------------------------------------ research */

export const ResearchInput = BaseInput.extend({
  /** What to research (default: the task goal). */
  topic: z.string().trim().min(1).max(1000).optional(),
  /** An angle on the topic, added to the search (e.g. "costs and risks"). */
  focus: z.string().trim().min(1).max(200).optional(),
  /** Pages to fetch with the http tool (besides `inputs.urls`). */
  urls: z
    .array(z.url({ protocol: /^https?$/, error: 'use an absolute http(s) URL' }))
    .max(20)
    .optional(),
  /** Findings kept at most (default 12). */
  maxFindings: z.number().int().min(1).max(50).optional(),
}).strict();
export type ResearchInput = z.infer<typeof ResearchInput>;

export const SourceKind = z.enum(['corpus', 'document', 'artifact', 'web']);
export const ResearchOutput = z.object({
  topic: z.string(),
  focus: z.string().optional(),
  mode: z.enum(['offline', 'model']),
  findings: z.number().int(),
  sources: z.array(z.object({ n: z.number().int(), label: z.string(), kind: SourceKind })),
  fetched: z.array(z.object({ url: z.string(), ok: z.boolean(), error: z.string().optional() })),
});
export type ResearchOutput = z.infer<typeof ResearchOutput>;

/* ------------------------------------------------------------------ writing */

export const WritingInput = BaseInput.extend({
  title: z.string().trim().min(1).max(300).optional(),
  /** "document" (default): every upstream result in order; "brief": summary, key findings, sources. */
  format: z.enum(['document', 'brief']).optional(),
  /** Word limit of a brief (default 600, about one page). */
  maxWords: z.number().int().min(50).max(20_000).optional(),
  /** Extra instructions for the model (LLM path). */
  instructions: z.string().max(4000).optional(),
}).strict();
export type WritingInput = z.infer<typeof WritingInput>;

export const WritingOutput = z.object({
  title: z.string(),
  format: z.enum(['document', 'brief']),
  mode: z.enum(['offline', 'model']),
  words: z.number().int(),
  upstream: z.array(z.string()),
  sources: z.number().int(),
});
export type WritingOutput = z.infer<typeof WritingOutput>;

/* ------------------------------------------------------------------ review */

export const ReviewInput = BaseInput.extend({
  /** Headings every reviewed document must have (case-insensitive, any level). */
  requiredSections: z.array(z.string().trim().min(1).max(200)).max(50).optional(),
  /** Every reviewed document must cite sources, and every citation must resolve. */
  requireCitations: z.boolean().optional(),
  /** A JSON Schema the upstream JSON artifacts (else the upstream outputs) must match. */
  jsonSchema: JsonObject.optional(),
  /** Word limits of each reviewed document. */
  minWords: z.number().int().min(0).optional(),
  maxWords: z.number().int().min(1).optional(),
  /** Fields every upstream output must have with these values (e.g. `{ "passed": true }`). */
  expectOutput: JsonObject.optional(),
  /** Further criteria in words, judged by the model (LLM path only). */
  criteria: z.string().max(4000).optional(),
  /** Fail the step on a "fail" verdict (default true); false = report the verdict and succeed. */
  failOnReject: z.boolean().optional(),
}).strict();
export type ReviewInput = z.infer<typeof ReviewInput>;

export const ReviewOutput = z.object({
  verdict: z.enum(['pass', 'fail']),
  reasons: z.array(z.string()),
  checked: z.array(z.string()),
  mode: z.enum(['offline', 'model']),
});
export type ReviewOutput = z.infer<typeof ReviewOutput>;

/* ------------------------------------------------------------------ data */

const ColumnName = z.string().trim().min(1).max(200);
export const Aggregate = z
  .object({
    fn: z.enum(['count', 'sum', 'avg', 'min', 'max']),
    column: ColumnName.optional(),
    as: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'use letters, digits and "_", starting with a letter')
      .optional(),
  })
  .strict()
  .refine((a) => a.fn === 'count' || a.column !== undefined, {
    message: 'give the column to aggregate (only "count" may leave it out)',
    path: ['column'],
  });
export type Aggregate = z.infer<typeof Aggregate>;

export const DataInput = BaseInput.extend({
  /** One read-only SQLite SELECT over the datasets (tables named after them). */
  sql: z.string().trim().min(1).max(20_000).optional(),
  /** The dataset a groupBy/aggregate spec (or a profile) runs on; default: the only one. */
  dataset: z.string().trim().min(1).max(200).optional(),
  groupBy: z.union([ColumnName, z.array(ColumnName).min(1).max(10)]).optional(),
  aggregate: z.union([Aggregate, z.array(Aggregate).min(1).max(20)]).optional(),
  /** Rows kept at most (default 1000). */
  limit: z.number().int().min(1).max(10_000).optional(),
  /** What to find out, for the model (LLM path). */
  question: z.string().max(4000).optional(),
})
  .strict()
  .refine((v) => !(v.sql && (v.groupBy !== undefined || v.aggregate !== undefined)), {
    message: 'give either sql or a groupBy/aggregate spec, not both',
    path: ['sql'],
  });
export type DataInput = z.infer<typeof DataInput>;

const Cell = z.union([z.string(), z.number(), z.null()]);
export const DataOutput = z.object({
  mode: z.enum(['sql', 'aggregate', 'profile', 'model']),
  dataset: z.string().optional(),
  sql: z.string(),
  columns: z.array(z.string()),
  rowCount: z.number().int(),
  /** The first rows (all of them in the CSV artifact). */
  rows: z.array(z.array(Cell)),
  truncated: z.boolean(),
});
export type DataOutput = z.infer<typeof DataOutput>;

/* ------------------------------------------------------------------ coding */

export const CodeFile = z
  .object({ path: z.string().min(1).max(255), content: z.string().max(1_000_000) })
  .strict();
export const CodingInput = BaseInput.extend({
  /** What to build (the model writes the code; offline, files + command are needed). */
  task: z.string().max(4000).optional(),
  /** Files written into the sandbox (default: `inputs.files`). */
  files: z.array(CodeFile).max(100).optional(),
  /** The command that runs the code or its tests (default: `inputs.command`). */
  command: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** The exit code that means success (default 0). */
  expectExitCode: z.number().int().min(0).max(255).optional(),
  /** Fail the step when the command does not succeed (default true). */
  failOnError: z.boolean().optional(),
  timeoutMs: z.number().int().positive().optional(),
  /** Produced files whose contents to report. */
  readFiles: z.array(z.string().min(1).max(255)).max(20).optional(),
}).strict();
export type CodingInput = z.infer<typeof CodingInput>;

export const CodingOutput = z.object({
  mode: z.enum(['offline', 'model']),
  command: z.union([z.string(), z.array(z.string())]),
  exitCode: z.number().int().nullable(),
  expectedExitCode: z.number().int(),
  passed: z.boolean(),
  timedOut: z.boolean(),
  stdout: z.string(),
  stderr: z.string(),
  files: z.array(z.object({ path: z.string(), size: z.number().int() })),
  runs: z.number().int(),
});
export type CodingOutput = z.infer<typeof CodingOutput>;

/** Step input contracts of the built-in agents, by agent name. */
export const BUILTIN_INPUTS: Record<string, z.ZodType> = {
  research: ResearchInput,
  writing: WritingInput,
  review: ReviewInput,
  data: DataInput,
  coding: CodingInput,
};

/** Output contracts of the built-in agents, by agent name. */
export const BUILTIN_OUTPUTS: Record<string, z.ZodType> = {
  research: ResearchOutput,
  writing: WritingOutput,
  review: ReviewOutput,
  data: DataOutput,
  coding: CodingOutput,
};
