/**
 * Review agent: checks the upstream steps' results against criteria and returns a verdict
 * `{ verdict: "pass" | "fail", reasons }` (and `review.md`, the checklist).
 *
 * Checks (each reviewed Markdown/text artifact on its own): required sections (headings),
 * citations present and resolvable (a `[n]` with no `[n]` source always fails), word limits; a
 * JSON Schema for the upstream JSON artifacts (else the upstream outputs); expected output fields.
 * With a model, the model also judges the documents against `criteria` (structured output), and
 * its reasons are added. A "fail" verdict fails the step with the reasons (non-retryable: the same
 * material would fail again) unless `failOnReject: false`.
 */
import { isDeepStrictEqual } from 'node:util';
import * as z from 'zod';
import { NonRetryableError } from '../core/errors.js';
import { type AgentContext, type AgentInput, type Json, JsonObject } from '../core/schemas.js';
import { generateObject } from '../models/types.js';
import { checkCitations } from './citations.js';
import { BaseInput, liveModel, type UpstreamText, upstreamTexts, wordCount } from './common.js';
import { defineAgent } from './define.js';

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

export const REVIEW_SYSTEM_PROMPT = [
  'You are the review agent of Baton, a multi-agent platform. You check documents produced by earlier steps',
  'against the given criteria and answer with a verdict: "pass" when every criterion is met, otherwise "fail"',
  'with one short, specific reason per problem (quote the section or claim). Judge only what is in the documents.',
].join(' ');

const ModelVerdict = z.object({
  verdict: z.enum(['pass', 'fail']),
  reasons: z.array(z.string().max(500)).max(20),
});

const normalize = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();

function headings(markdown: string): string[] {
  return [...markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => normalize(m[1] ?? ''));
}

function kindOf(t: UpstreamText): 'json' | 'csv' | 'text' {
  const type = t.ref.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type === 'text/csv') return 'csv';
  return 'text';
}

function schemaOf(jsonSchema: Record<string, unknown>): z.ZodType {
  try {
    return z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (err) {
    throw new NonRetryableError(
      `review input is not valid: input.jsonSchema is not a usable JSON Schema (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
}

/** The deterministic checks: reasons to fail, and what was checked. */
export function reviewChecks(
  input: AgentInput,
  p: ReviewInput,
  texts: UpstreamText[],
): { reasons: string[]; checked: string[] } {
  const reasons: string[] = [];
  const checked: string[] = [];
  if (input.upstream.length === 0) reasons.push('there is nothing to review: the step has no upstream steps');
  const docs = texts.filter((t) => kindOf(t) === 'text');
  const needsDocs =
    (p.requiredSections?.length ?? 0) > 0 ||
    p.requireCitations ||
    p.minWords !== undefined ||
    p.maxWords !== undefined;
  if (input.upstream.length > 0 && needsDocs && docs.length === 0) {
    reasons.push('the upstream steps produced no text document to check');
  }
  for (const doc of docs) {
    const name = `${doc.stepId}/${doc.ref.name}`;
    checked.push(name);
    if (!doc.text.trim()) {
      reasons.push(`${name} is empty`);
      continue;
    }
    const found = headings(doc.text);
    for (const section of p.requiredSections ?? []) {
      const want = normalize(section);
      if (!found.some((h) => h === want || h.startsWith(`${want} `)))
        reasons.push(`${name} has no "${section}" section`);
    }
    const cites = checkCitations(doc.text);
    if (p.requireCitations && cites.markers.length === 0)
      reasons.push(`${name} cites no sources (no [n] citation markers)`);
    if (p.requireCitations && cites.sources.size === 0)
      reasons.push(`${name} has no Sources section listing "[n] source" entries`);
    if (cites.dangling.length > 0) {
      reasons.push(
        `${name} cites ${cites.dangling.map((n) => `[${n}]`).join(', ')} but its Sources list has no such entry`,
      );
    }
    if (/\[\?\]/.test(doc.text)) reasons.push(`${name} has citations whose source was lost ([?])`);
    const words = wordCount(doc.text);
    if (p.minWords !== undefined && words < p.minWords)
      reasons.push(`${name} has ${words} words; at least ${p.minWords} are required`);
    if (p.maxWords !== undefined && words > p.maxWords)
      reasons.push(`${name} has ${words} words; at most ${p.maxWords} are allowed`);
  }

  if (p.jsonSchema) {
    const schema = schemaOf(p.jsonSchema);
    const jsons = texts.filter((t) => kindOf(t) === 'json');
    const targets: { name: string; value?: unknown; error?: string }[] = jsons.length
      ? jsons.map((t) => {
          const name = `${t.stepId}/${t.ref.name}`;
          try {
            return { name, value: JSON.parse(t.text) as unknown };
          } catch (err) {
            return { name, error: (err as Error).message };
          }
        })
      : input.upstream
          .filter((u) => u.output !== undefined)
          .map((u) => ({ name: `${u.stepId} output`, value: u.output }));
    if (targets.length === 0)
      reasons.push('there is no JSON artifact or upstream output to check against the JSON schema');
    for (const t of targets) {
      checked.push(t.name);
      if (t.error) {
        reasons.push(`${t.name} is not valid JSON: ${t.error}`);
        continue;
      }
      const result = schema.safeParse(t.value);
      if (!result.success) {
        const issues = result.error.issues
          .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
          .slice(0, 5);
        reasons.push(`${t.name} does not match the JSON schema: ${issues.join('; ')}`);
      }
    }
  }

  for (const [key, want] of Object.entries(p.expectOutput ?? {})) {
    for (const up of input.upstream) {
      const out = up.output;
      const got =
        out && typeof out === 'object' && !Array.isArray(out)
          ? (out as Record<string, Json>)[key]
          : undefined;
      if (!isDeepStrictEqual(got, want)) {
        reasons.push(
          `${up.stepId} output.${key} is ${JSON.stringify(got) ?? 'missing'}; expected ${JSON.stringify(want)}`,
        );
      }
    }
  }
  return { reasons, checked: [...new Set(checked)] };
}

async function modelReasons(
  ctx: AgentContext,
  input: AgentInput,
  p: ReviewInput,
  texts: UpstreamText[],
): Promise<string[]> {
  const model = liveModel(ctx);
  if (!model) return [];
  const criteria = [
    ...(p.criteria ? [p.criteria] : []),
    ...(p.requiredSections?.length ? [`Has the sections: ${p.requiredSections.join(', ')}`] : []),
    ...(p.requireCitations
      ? ['Every factual claim carries a numbered citation that its Sources list resolves']
      : []),
    'The documents fulfil the task goal and contradict neither themselves nor their sources',
  ];
  const docs = texts
    .filter((t) => kindOf(t) !== 'csv')
    .map((t) => `### ${t.stepId}/${t.ref.name}\n${t.text.slice(0, 20_000)}`)
    .join('\n\n');
  const { value } = await generateObject(
    model,
    {
      messages: [
        { role: 'system', content: REVIEW_SYSTEM_PROMPT },
        {
          role: 'user',
          content: [
            `Task goal: ${input.goal}`,
            'Criteria:',
            ...criteria.map((c) => `- ${c}`),
            '',
            'Documents:',
            docs || '(none)',
          ].join('\n'),
        },
      ],
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    },
    ModelVerdict,
  );
  return value.verdict === 'pass'
    ? []
    : value.reasons.length
      ? value.reasons.map((r) => `model: ${r}`)
      : ['model: fail (no reason given)'];
}

function report(
  verdict: ReviewOutput['verdict'],
  reasons: string[],
  checked: string[],
  p: ReviewInput,
): string {
  const criteria = [
    ...(p.requiredSections?.length ? [`required sections: ${p.requiredSections.join(', ')}`] : []),
    ...(p.requireCitations ? ['citations required'] : []),
    ...(p.jsonSchema ? ['JSON schema'] : []),
    ...(p.minWords !== undefined ? [`at least ${p.minWords} words`] : []),
    ...(p.maxWords !== undefined ? [`at most ${p.maxWords} words`] : []),
    ...(p.expectOutput ? [`expected output: ${JSON.stringify(p.expectOutput)}`] : []),
    ...(p.criteria ? [`criteria: ${p.criteria}`] : []),
    'citations resolve',
  ];
  return [
    `# Review: ${verdict.toUpperCase()}`,
    '',
    '## Checked',
    '',
    ...(checked.length ? checked.map((c) => `- ${c}`) : ['- (nothing)']),
    '',
    '## Criteria',
    '',
    ...criteria.map((c) => `- ${c}`),
    '',
    '## Reasons',
    '',
    ...(reasons.length ? reasons.map((r) => `- ${r}`) : ['- every criterion is met']),
    '',
  ].join('\n');
}

export const review = defineAgent({
  name: 'review',
  description: 'Checks upstream artifacts against criteria and returns a pass/fail verdict with reasons',
  input: ReviewInput,
  output: ReviewOutput,
  defaultTools: {},
  systemPrompt: REVIEW_SYSTEM_PROMPT,
  handler: async (input, ctx, p) => {
    const texts = await upstreamTexts(input, ctx);
    const { reasons, checked } = reviewChecks(input, p, texts);
    const model = liveModel(ctx);
    reasons.push(...(await modelReasons(ctx, input, p, texts)));
    const verdict: ReviewOutput['verdict'] = reasons.length === 0 ? 'pass' : 'fail';
    if (verdict === 'fail' && p.failOnReject !== false) {
      throw new NonRetryableError(
        `Review failed (${reasons.length} ${reasons.length === 1 ? 'reason' : 'reasons'}): ${reasons.join('; ')}`,
      );
    }
    const output: ReviewOutput = { verdict, reasons, checked, mode: model ? 'model' : 'offline' };
    return {
      summary:
        verdict === 'pass'
          ? `Review passed: ${checked.length} item(s) checked${model ? ` (with ${model.id})` : ''}`
          : `Review failed (${reasons.length} reasons, not enforced): ${reasons.slice(0, 3).join('; ')}`.slice(
              0,
              4000,
            ),
      output,
      artifacts: [
        { name: 'review.md', contentType: 'text/markdown', body: report(verdict, reasons, checked, p) },
      ],
    };
  },
});
