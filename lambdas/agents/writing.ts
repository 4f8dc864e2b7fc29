/**
 * Writing agent: composes one document (`document.md`) from its upstream steps — their summaries
 * and text artifacts, in dependency order — with a title from the step input or the goal.
 * Citations are carried over: every upstream document's `[n]` markers are renumbered into one
 * consolidated Sources list. CSV artifacts become tables, JSON ones code blocks.
 *
 * Formats: "document" (default) keeps every upstream result under its own heading; "brief" is
 * about one page (maxWords, default 600): a summary, the key cited findings (taken in turn from
 * each upstream document, duplicates dropped), data tables, and only the sources it cites.
 * With a model, the model writes the text from the same material and must keep the citations.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import * as z from 'zod';
import { AgentFailedError } from '../core/errors.js';
import type { AgentContext, AgentInput } from '../core/schemas.js';
import {
  citationMarkers,
  mergeCitations,
  renderSources,
  type SplitDocument,
  splitSources,
} from './citations.js';
import { BaseInput, liveModel, type UpstreamText, upstreamTexts, wordCount } from './common.js';
import { defineAgent } from './define.js';

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

export const WRITING_SYSTEM_PROMPT = [
  'You are the writing agent of Baton, a multi-agent platform. You compose a clear, well-structured Markdown',
  'document from the material of earlier steps. Use only that material: add no facts of your own.',
  'Keep the numbered citations exactly as given ([1], [2], ...) on the claims they support, and end with a',
  '"## Sources" section that lists the cited sources as "[n] <label>" with the labels given. Start with "# <title>".',
].join(' ');

const DEFAULT_BRIEF_WORDS = 600;
const MAX_TABLE_ROWS = 20;

/** A CSV as a Markdown table (first rows only). */
export function csvToMarkdown(csv: string, maxRows = MAX_TABLE_ROWS): string {
  let records: string[][];
  try {
    records = parseCsv(csv, { bom: true, skip_empty_lines: true, relax_column_count: true }) as string[][];
  } catch {
    return ['```csv', csv.trim(), '```'].join('\n');
  }
  const [header = [], ...rows] = records;
  const cell = (v: string | undefined) => (v ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const lines = [
    `| ${header.map(cell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.slice(0, maxRows).map((r) => `| ${header.map((_, i) => cell(r[i])).join(' | ')} |`),
  ];
  if (rows.length > maxRows) lines.push('', `(${rows.length - maxRows} more rows in the CSV)`);
  return lines.join('\n');
}

interface Piece {
  up: UpstreamText;
  kind: 'markdown' | 'table' | 'json';
  doc: SplitDocument;
}

function pieceOf(up: UpstreamText): Piece {
  const type = up.ref.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'text/csv' || up.ref.name.toLowerCase().endsWith('.csv'))
    return { up, kind: 'table', doc: { body: csvToMarkdown(up.text), sources: new Map() } };
  if (type === 'application/json' || type.endsWith('+json')) {
    const json = up.text.length > 4000 ? `${up.text.slice(0, 4000)}\n…` : up.text;
    return {
      up,
      kind: 'json',
      doc: { body: ['```json', json.trim(), '```'].join('\n'), sources: new Map() },
    };
  }
  return { up, kind: 'markdown', doc: splitSources(up.text) };
}

/** Headings pushed `levels` deeper (a document's "# Notes" becomes "### Notes" inside a section). */
function demote(markdown: string, levels = 2): string {
  return markdown.replace(
    /^(#{1,6})(\s)/gm,
    (_m, h: string, sp: string) => `${'#'.repeat(Math.min(6, h.length + levels))}${sp}`,
  );
}

/** Keeps only the sources `body` cites, renumbered in order of first citation. */
export function compactCitations(
  body: string,
  sources: readonly string[],
): { body: string; sources: string[] } {
  const order: number[] = [];
  for (const n of citationMarkers(body))
    if (!order.includes(n) && sources[n - 1] !== undefined) order.push(n);
  const renumber = new Map(order.map((n, i) => [n, i + 1]));
  return {
    body: body.replace(/\[(\d{1,4})\](?![(:])/g, (m, n: string) => {
      const to = renumber.get(Number(n));
      return to === undefined ? m : `[${to}]`;
    }),
    sources: order.map((n) => sources[n - 1] as string),
  };
}

function composeDocument(
  title: string,
  input: AgentInput,
  pieces: Piece[],
  bodies: string[],
  sources: string[],
): string {
  const parts = [`# ${title}`, ''];
  for (const up of input.upstream) {
    parts.push(`## From ${up.stepId} (${up.agent})`, '', up.summary, '');
    pieces.forEach((p, i) => {
      if (p.up.stepId === up.stepId) parts.push(demote(bodies[i] ?? '').trim(), '');
    });
  }
  if (input.upstream.length === 0) parts.push(`Goal: ${input.goal}`, '');
  if (sources.length) parts.push(renderSources(sources), '');
  return `${parts.join('\n').trim()}\n`;
}

const normalize = (s: string) =>
  s
    .replace(/\[\d+\]|\[\?\]/g, '')
    .replace(/[^a-z0-9]+/gi, ' ')
    .trim()
    .toLowerCase();

function composeBrief(
  title: string,
  input: AgentInput,
  pieces: Piece[],
  bodies: string[],
  sources: string[],
  maxWords: number,
): string {
  // Key findings: cited bullet lines, taken in turn from each upstream document.
  const lists = pieces.map((p, i) =>
    p.kind === 'markdown'
      ? (bodies[i] ?? '')
          .split('\n')
          .filter((l) => /^\s*[-*]\s+/.test(l) && citationMarkers(l).length > 0)
          .map((l) => l.replace(/^\s*[-*]\s+/, '').trim())
      : [],
  );
  const tables = pieces.flatMap((p, i) =>
    p.kind === 'table' ? [{ name: `${p.up.stepId}/${p.up.ref.name}`, body: bodies[i] ?? '' }] : [],
  );
  const stepsUsed = input.upstream.map((u) => u.stepId);
  const cited = new Set(lists.flat().flatMap((l) => citationMarkers(l))).size;
  const summary =
    input.upstream.length === 0
      ? `Goal: ${input.goal}`
      : [
          `This brief brings together the results of ${stepsUsed.join(', ')}`,
          cited ? ` (${cited} cited sources)` : '',
          tables.length ? `, with ${tables.length} data table${tables.length > 1 ? 's' : ''}` : '',
          '. It was composed by rules from their findings, without a model.',
        ].join('');
  const head = [`# ${title}`, '', '## Summary', '', summary, ''];
  const tableBlock = tables.length
    ? ['## Data', '', ...tables.flatMap((t) => [`${t.name}:`, '', t.body, ''])]
    : [];
  let budget = maxWords - wordCount(head.join('\n')) - wordCount(tableBlock.join('\n')) - 3;
  const seen = new Set<string>();
  const kept: string[] = [];
  for (let round = 0; budget > 0 && lists.some((l) => l.length > round); round++) {
    for (const list of lists) {
      const line = list[round];
      if (!line) continue;
      const key = normalize(line);
      if (seen.has(key)) continue;
      const words = wordCount(line) + 1;
      if (words > budget) {
        budget = 0;
        break;
      }
      seen.add(key);
      kept.push(`- ${line}`);
      budget -= words;
    }
  }
  const findings = kept.length ? ['## Key findings', '', ...kept, ''] : [];
  const compact = compactCitations([...head, ...findings, ...tableBlock].join('\n'), sources);
  const tailParts = compact.sources.length ? ['', renderSources(compact.sources)] : [];
  return `${[compact.body.trim(), ...tailParts].join('\n').trim()}\n`;
}

async function withModel(
  ctx: AgentContext,
  input: AgentInput,
  p: WritingInput,
  title: string,
  format: 'document' | 'brief',
  pieces: Piece[],
  bodies: string[],
  sources: string[],
): Promise<string> {
  const model = liveModel(ctx);
  if (!model) throw new AgentFailedError('unreachable: no model');
  const material = pieces
    .map((piece, i) => `### ${piece.up.stepId}/${piece.up.ref.name}\n${bodies[i]}`)
    .join('\n\n');
  const prompt = [
    `Title: ${title}`,
    `Task goal: ${input.goal}`,
    format === 'brief'
      ? `Write a brief of at most ${p.maxWords ?? DEFAULT_BRIEF_WORDS} words: "## Summary", "## Key findings", then "## Sources".`
      : 'Write a complete document that covers all the material, in a sensible order, then "## Sources".',
    ...(p.instructions ? [`Instructions: ${p.instructions}`] : []),
    '',
    'Upstream summaries:',
    ...input.upstream.map((u) => `- ${u.stepId} (${u.agent}): ${u.summary}`),
    '',
    'Material (citations already numbered):',
    material || '(none)',
    '',
    'Sources (cite with these numbers):',
    sources.length ? sources.map((s, i) => `[${i + 1}] ${s}`).join('\n') : '(none)',
  ].join('\n');
  const reply = await model.generate({
    messages: [
      { role: 'system', content: WRITING_SYSTEM_PROMPT },
      { role: 'user', content: prompt },
    ],
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const text = reply.text.trim();
  if (!text) throw new AgentFailedError(`writing: ${model.id} returned no text`);
  return `${text}\n`;
}

export const writing = defineAgent({
  name: 'writing',
  description: 'Composes a document or brief from upstream results, carrying their citations',
  input: WritingInput,
  output: WritingOutput,
  defaultTools: {},
  systemPrompt: WRITING_SYSTEM_PROMPT,
  handler: async (input, ctx, p) => {
    const title = (p.title ?? input.goal).slice(0, 300);
    const format = p.format ?? 'document';
    const pieces = (await upstreamTexts(input, ctx)).map(pieceOf);
    const { bodies, sources } = mergeCitations(pieces.map((piece) => piece.doc));
    const model = liveModel(ctx);
    const body = model
      ? await withModel(ctx, input, p, title, format, pieces, bodies, sources)
      : format === 'brief'
        ? composeBrief(title, input, pieces, bodies, sources, p.maxWords ?? DEFAULT_BRIEF_WORDS)
        : composeDocument(title, input, pieces, bodies, sources);
    const words = wordCount(splitSources(body).body);
    const cited = splitSources(body).sources.size;
    const output: WritingOutput = {
      title,
      format,
      mode: model ? 'model' : 'offline',
      words,
      upstream: input.upstream.map((u) => u.stepId),
      sources: cited,
    };
    return {
      summary: `Composed "${title}" (${format}, ${words} words${model ? `, by ${model.id}` : ''}) from ${input.upstream.length} upstream steps and ${pieces.length} artifacts; ${cited} sources cited`,
      output,
      artifacts: [{ name: 'document.md', contentType: 'text/markdown', body }],
    };
  },
});
