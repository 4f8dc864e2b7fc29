/**
 * Research agent: gathers material on a topic and writes cited notes (`notes.md`, numbered
 * citations and a Sources section).
 *
 * Offline (no model): searches with the `search` tool — the configured corpus folder
 * (`tools.search.corpusDir`) and the step's files (the task's `inputs.documents` and upstream
 * text artifacts) — and fetches the given URLs (`input.urls`, `inputs.urls`) with the `http`
 * tool; keeps the sentences that mention the topic, each cited. A refused or failed fetch is noted
 * in the notes and the output (the ToolCalled event records the refusal); it makes no claim it
 * cannot source. With a model: a bounded tool-use loop over the same tools.
 */
import * as z from 'zod';
import { AgentFailedError, NonRetryableError } from '../core/errors.js';
import type { AgentContext, AgentInput } from '../core/schemas.js';
import type { HttpOutput } from '../tools/http.js';
import type { SearchHit, SearchOutput } from '../tools/search.js';
import { type Finding, renderNotes, splitSources } from './citations.js';
import { BaseInput, DEFAULT_MAX_TURNS, itemText, liveModel, toolErrorOf } from './common.js';
import { documentFileName, taskDocuments } from './context.js';
import { defineAgent } from './define.js';
import { runToolLoop } from './loop.js';

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

export const RESEARCH_SYSTEM_PROMPT = [
  "You are the research agent of Baton, a multi-agent platform. You gather material on the step's topic",
  'with your tools and write research notes in Markdown.',
  'Tools: "search" finds passages in the document collection (source "corpus") and in the task\'s own',
  'documents and upstream files (source "artifacts"); "http" fetches a web page. Use them before writing.',
  'Rules: every finding is one bullet that ends with a numbered citation like [1]; end with a "## Sources"',
  'section listing each source once as "[n] <title> (<path or URL>)". Cite only what a tool returned; never',
  'invent sources, facts or URLs. If the tools find nothing, say so plainly. Start with "# Research notes: <topic>".',
].join(' ');

const InputUrls = z.array(z.url({ protocol: /^https?$/, error: 'use absolute http(s) URLs' })).max(20);

/** Search hits scoring below this share of the best hit are left out. */
const RELEVANCE = 0.35;
/** Findings kept per document at most. */
const PER_DOCUMENT = 4;

const STOP = new Set([
  'the',
  'and',
  'for',
  'with',
  'that',
  'this',
  'from',
  'into',
  'about',
  'research',
  'write',
  'brief',
  'what',
  'how',
  'are',
  'its',
  'their',
  'they',
  'them',
  'compare',
  'between',
  'versus',
  'uses',
  'works',
]);

/** Lowercase words of 3+ characters, without stop words, deduplicated. */
export function keywords(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/[a-z0-9][a-z0-9-]{2,}/g) ?? [])].filter((w) => !STOP.has(w));
}

/** A crude stem: lowercase, plural and -ing/-ed endings dropped ("pumps" → "pump"). */
export function stem(word: string): string {
  const w = word.toLowerCase();
  if (w.length > 4 && w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.length > 5 && w.endsWith('ing')) return w.slice(0, -3);
  if (w.length > 4 && w.endsWith('ed')) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith('es') && /(s|x|z|ch|sh)es$/.test(w)) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) return w.slice(0, -1);
  return w;
}

/** How many of `terms` a sentence mentions (a word of it starts with the term's stem). */
export function mentionCount(sentence: string, terms: readonly string[]): number {
  const words = sentence.toLowerCase().match(/[a-z0-9][a-z0-9-]*/g) ?? [];
  return new Set(terms.map(stem)).size === 0
    ? 0
    : [...new Set(terms.map(stem))].filter((t) => words.some((w) => w.startsWith(t))).length;
}

const STARTERS =
  'The|A|An|This|These|Those|It|Its|In|On|At|For|Many|Most|Some|Each|Every|When|If|We|You|Our|All|Both|There|To|By|With';
const GLUED_HEADING = new RegExp(`^([A-Z][\\w-]*(?: [a-z][\\w-]*){0,4}) (?=(?:${STARTERS}) )`);

/**
 * A sentence without a heading glued to its front by a flattened snippet ("Limits The efficiency
 * ..." → "The efficiency ..."): the document title, a short phrase before a common sentence
 * opener, or one word the sentence repeats ("Risks Refrigerant leaks are a risk").
 */
export function withoutHeading(sentence: string, title?: string): string {
  let s = sentence;
  if (title && s.startsWith(`${title} `)) {
    // the title, then the first sentence (of a list item, in a flattened markdown document)
    const rest = s.slice(title.length + 1).replace(/^[-*+]\s+/, '');
    if (/^[A-Z]/.test(rest)) s = rest;
  }
  const glued = GLUED_HEADING.exec(s);
  if (glued?.[1]) return s.slice(glued[1].length + 1);
  const first = /^([A-Z][a-z]+) (?=[A-Z])/.exec(s);
  if (first?.[1] && mentionCount(s.slice(first[1].length + 1), [first[1]]) > 0)
    return s.slice(first[1].length + 1);
  return s;
}

interface ScoredSentence {
  s: string;
  score: number;
  at: number;
}

/**
 * Without list bullets, leading or trailing citation marks ("[2]") and emphasis: upstream notes
 * are cited again under their own numbers, not copied with the old ones.
 */
function stripMarks(text: string): string {
  return text
    .replace(/^(?:\s*(?:\[\d+\]|[-*+]|\d+\.)(?=\s))+\s*/, '')
    .replace(/(?:\s*\[\d+\])+\s*$/, '')
    .replace(/\*\*|__|`/g, '')
    .trim();
}

/**
 * The sentences of a passage that mention a topic or focus term, scored by how many they mention
 * (markdown marks removed, fragments cut off at the passage's ends dropped).
 */
export function scoreSentences(
  passage: string,
  topicTerms: readonly string[],
  opts: { focusTerms?: readonly string[]; title?: string } = {},
): ScoredSentence[] {
  const startsCut = passage.trimStart().startsWith('…');
  const endsCut = passage.trimEnd().endsWith('…');
  const flat = passage
    .replace(/^\s*…\s*/, '')
    .replace(/\s*…\s*$/, '')
    .replace(/(^|\s)#{1,6}\s+/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  let parts = flat.split(/(?<=[.!?])\s+(?=["'([]?[A-Z0-9])/);
  if (startsCut && parts.length > 1) parts = parts.slice(1);
  if (endsCut && !/[.!?]["')\]]?$/.test(parts.at(-1) ?? '')) parts = parts.slice(0, -1);
  const scored: ScoredSentence[] = [];
  parts.forEach((raw, at) => {
    const s = stripMarks(withoutHeading(stripMarks(raw), opts.title));
    // Lines of a notes artifact's source list are not findings.
    if (/^Sources\b/.test(s) || /\((?:inputs\.documents\[|artifact )/.test(s)) return;
    if (s.length < 12 || scored.some((x) => x.s === s)) return;
    const score = mentionCount(s, topicTerms) + mentionCount(s, opts.focusTerms ?? []);
    if (score > 0) scored.push({ s, score, at });
  });
  return scored;
}

/** The `max` best sentences of a passage (see scoreSentences), in passage order. */
export function pickSentences(
  passage: string,
  topicTerms: readonly string[],
  max: number,
  opts: { focusTerms?: readonly string[]; title?: string } = {},
): string[] {
  return scoreSentences(passage, topicTerms, opts)
    .sort((a, b) => b.score - a.score || a.at - b.at)
    .slice(0, max)
    .sort((a, b) => a.at - b.at)
    .map((x) => x.s);
}

/** Visible text of an HTML page (scripts, styles and tags removed) and its title. */
export function htmlText(html: string): { title?: string; text: string } {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(html)?.[1]?.trim();
  const text = html
    .replace(/<(script|style|noscript|head)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<\/(p|div|li|h[1-6]|br|tr|section|article)>/gi, '. ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\s*\.\s*(\.\s*)+/g, '. ')
    .replace(/\s+/g, ' ')
    .trim();
  return { ...(title ? { title } : {}), text };
}

type Source = ResearchOutput['sources'][number];

class Sources {
  readonly list: Source[] = [];
  number(label: string, kind: Source['kind']): number {
    const found = this.list.find((s) => s.label === label);
    if (found) return found.n;
    const n = this.list.length + 1;
    this.list.push({ n, label, kind });
    return n;
  }
}

function urlsOf(input: AgentInput, own: readonly string[]): string[] {
  const given = input.inputs.urls;
  let fromInputs: string[] = [];
  if (given !== undefined) {
    const parsed = InputUrls.safeParse(given);
    if (!parsed.success) {
      throw new NonRetryableError(
        `research: inputs.urls must be a list of absolute http(s) URLs (${parsed.error.issues[0]?.message})`,
      );
    }
    fromInputs = parsed.data;
  }
  return [...new Set([...own, ...fromInputs])];
}

function hitSource(
  hit: SearchHit,
  source: SearchOutput['source'],
  docs: { title: string }[],
): { label: string; kind: Source['kind'] } {
  if (source === 'corpus') return { label: `${hit.title} (${hit.id})`, kind: 'corpus' };
  const doc = /^documents\/(\d+)$/.exec(hit.id);
  if (doc) {
    const i = Number(doc[1]) - 1;
    return { label: `${docs[i]?.title ?? hit.title} (inputs.documents[${i}])`, kind: 'document' };
  }
  return { label: `${hit.title} (artifact ${hit.id})`, kind: 'artifact' };
}

async function offline(
  input: AgentInput,
  ctx: AgentContext,
  p: ResearchInput,
  topic: string,
  urls: string[],
) {
  const tools = ctx.tools;
  const docs = taskDocuments(input.inputs);
  const topicTerms = keywords(topic);
  const focusTerms = keywords(p.focus ?? '').filter((t) => !topicTerms.includes(t));
  const terms = [...topicTerms, ...focusTerms];
  const query = terms.join(' ') || topic;
  const maxFindings = p.maxFindings ?? 12;
  const sources = new Sources();
  const findings: Finding[] = [];
  const notes: string[] = [];
  const searched: string[] = [];
  let documentsSearched = 0;

  const hasFiles = docs.length > 0 || input.upstream.some((u) => u.artifacts.length > 0);
  // The whole query finds the relevant documents; each focus term (else each topic term) alone then
  // shows other passages of those documents (a snippet centres on the terms searched for).
  const angles = (focusTerms.length ? focusTerms : topicTerms.length > 1 ? topicTerms : []).slice(0, 3);
  const queries = [...new Set([query, ...angles])];
  const search = async (q: string, source?: 'artifacts') =>
    (await tools?.call('search', { query: q, limit: 8, ...(source ? { source } : {}) })) as SearchOutput;
  if (tools?.has('search') && query.trim()) {
    const found = new Map<
      string,
      { hit: SearchHit; source: SearchOutput['source']; candidates: ScoredSentence[] }
    >();
    const counts = new Map<SearchOutput['source'], number>();
    const collect = (r: SearchOutput, q: number) => {
      counts.set(r.source, r.documents);
      const top = r.hits[0]?.score ?? 0;
      // Documents far below the best match only share a word or two with the query.
      for (const hit of r.hits.filter((h) => h.score >= top * RELEVANCE)) {
        const key = `${r.source}:${hit.id}`;
        if (q > 0 && !found.has(key)) continue; // angles only add passages of relevant documents
        const entry = found.get(key) ?? { hit, source: r.source, candidates: [] };
        found.set(key, entry);
        for (const c of scoreSentences(hit.snippet, topicTerms.length ? topicTerms : hit.terms, {
          focusTerms,
          title: hit.title,
        })) {
          if (!entry.candidates.some((x) => x.s === c.s))
            entry.candidates.push({ ...c, at: q * 1000 + c.at });
        }
      }
    };
    const sourcesToSearch: ('corpus' | 'artifacts')[] = [];
    const first = await search(query);
    sourcesToSearch.push(first.source);
    collect(first, 0);
    if (first.source === 'corpus' && hasFiles) sourcesToSearch.push('artifacts');
    if (sourcesToSearch.includes('artifacts') && first.source === 'corpus')
      collect(await search(query, 'artifacts'), 0);
    for (const source of sourcesToSearch) {
      for (const [i, q] of queries.entries()) {
        if (i === 0) continue;
        const r = await search(q, source === 'artifacts' ? 'artifacts' : undefined);
        collect(r, i);
      }
    }
    for (const [source, n] of counts) {
      documentsSearched += n;
      searched.push(source === 'corpus' ? `the corpus (${n} documents)` : `the task's files (${n})`);
    }
    // Primary sources first: a sentence that upstream notes merely repeat is cited to its document.
    const ordered = [...found.values()].sort(
      (a, b) =>
        Number(hitSource(a.hit, a.source, docs).kind === 'artifact') -
        Number(hitSource(b.hit, b.source, docs).kind === 'artifact'),
    );
    for (const { hit, source, candidates } of ordered) {
      if (findings.length >= maxFindings) break;
      const best = candidates
        .filter((c) => !findings.some((f) => f.text === c.s))
        .sort((a, b) => b.score - a.score || a.at - b.at)
        .slice(0, PER_DOCUMENT);
      if (best.length === 0) continue;
      const { label, kind } = hitSource(hit, source, docs);
      const n = sources.number(label, kind);
      for (const c of best.slice(0, maxFindings - findings.length)) findings.push({ text: c.s, source: n });
    }
  } else if (!tools?.has('search')) {
    notes.push('The search tool is not allowed for this agent: no documents were searched.');
  }

  const fetched: ResearchOutput['fetched'] = [];
  for (const url of urls) {
    try {
      const res = (await tools?.call('http', { url, method: 'GET' })) as HttpOutput | undefined;
      if (!res)
        throw new NonRetryableError('research: no tools are available (run it through the Baton harness)');
      if (res.status >= 400) {
        fetched.push({ url, ok: false, error: `HTTP ${res.status} ${res.statusText}` });
        notes.push(`Could not use ${url}: HTTP ${res.status} ${res.statusText}.`);
        continue;
      }
      const page =
        res.bodyEncoding === 'text' && /html/i.test(res.contentType ?? '')
          ? htmlText(res.body)
          : { text: res.bodyEncoding === 'text' ? res.body : '' };
      let sentences = pickSentences(page.text, topicTerms.length ? topicTerms : terms, 3, { focusTerms });
      if (sentences.length === 0) sentences = pickSentences(page.text, keywords(page.text).slice(0, 50), 2);
      fetched.push({ url, ok: true });
      if (sentences.length === 0) {
        notes.push(`${url} was fetched but has no usable text.`);
        continue;
      }
      const n = sources.number(`${'title' in page && page.title ? page.title : res.url} <${res.url}>`, 'web');
      for (const text of sentences) findings.push({ text, source: n });
    } catch (err) {
      const toolErr = toolErrorOf(err);
      if (!toolErr) throw err;
      fetched.push({ url, ok: false, error: `${toolErr.name}: ${toolErr.message}` });
      notes.push(`Could not fetch ${url}: ${toolErr.message}`);
    }
  }

  const heading = `Research notes: ${topic}${p.focus ? ` (${p.focus})` : ''}`;
  const body = renderNotes({
    title: heading,
    findings,
    sources: sources.list.map((s) => s.label),
    notes,
    empty: `No searched document or fetched page mentions ${terms.join(', ') || 'the topic'}; nothing here is sourced.`,
  });
  const what = [
    ...searched,
    ...(urls.length ? [`${fetched.filter((f) => f.ok).length} of ${urls.length} URLs`] : []),
  ];
  const output: ResearchOutput = {
    topic,
    ...(p.focus ? { focus: p.focus } : {}),
    mode: 'offline',
    findings: findings.length,
    sources: sources.list,
    fetched,
  };
  return {
    summary:
      findings.length === 0
        ? `No sourced findings on "${topic}" (offline research, ${documentsSearched} documents searched${urls.length ? `, ${urls.length} URLs tried` : ''})`
        : `${findings.length} cited findings on "${topic}"${p.focus ? ` (${p.focus})` : ''} from ${sources.list.length} sources (offline research: ${what.join(', ')})`,
    output,
    artifacts: [{ name: 'notes.md', contentType: 'text/markdown', body }],
  };
}

async function withModel(
  input: AgentInput,
  ctx: AgentContext,
  p: ResearchInput,
  topic: string,
  urls: string[],
) {
  const model = liveModel(ctx);
  if (!model) throw new AgentFailedError('unreachable: no model');
  const docs = taskDocuments(input.inputs);
  const prompt = [
    `Topic: ${topic}`,
    ...(p.focus ? [`Focus: ${p.focus}`] : []),
    `Task goal: ${input.goal}`,
    ...(urls.length ? [`Read these pages with the http tool: ${urls.join(', ')}`] : []),
    ...(docs.length
      ? [
          `The task supplied ${docs.length} documents (search source "artifacts"; ids ${docs.map((_, i) => documentFileName(i)).join(', ')}).`,
        ]
      : []),
    ...(input.upstream.length
      ? [`Upstream steps: ${input.upstream.map((u) => `${u.stepId} (${u.agent}): ${u.summary}`).join('; ')}`]
      : []),
    `Write at most ${p.maxFindings ?? 12} findings.`,
  ].join('\n');
  const result = await runToolLoop({
    model,
    tools: ctx.tools,
    system: RESEARCH_SYSTEM_PROMPT,
    prompt,
    maxTurns: p.maxTurns ?? DEFAULT_MAX_TURNS,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const text = result.text.trim();
  if (!text) throw new AgentFailedError(`research: ${model.id} returned no notes`);
  const { sources } = splitSources(text);
  const fetched = result.calls
    .filter((c) => c.name === 'http')
    .map((c) => ({
      url: String((c.args as { url?: unknown } | undefined)?.url ?? ''),
      ok: c.ok,
      ...(c.error ? { error: c.error } : {}),
    }));
  const output: ResearchOutput = {
    topic,
    ...(p.focus ? { focus: p.focus } : {}),
    mode: 'model',
    findings: text.split('\n').filter((l) => /^\s*[-*]\s/.test(l)).length,
    sources: [...sources].map(([n, label]) => ({
      n,
      label,
      kind: /<https?:|\(https?:/.test(label) ? 'web' : 'corpus',
    })),
    fetched,
  };
  return {
    summary: `Research notes on "${topic}" by ${model.id}: ${sources.size} sources, ${result.calls.length} tool calls in ${result.turns} turns`,
    output,
    artifacts: [{ name: 'notes.md', contentType: 'text/markdown', body: `${text}\n` }],
  };
}

export const research = defineAgent({
  name: 'research',
  description: 'Searches the corpus, the task documents and given URLs; writes cited notes',
  input: ResearchInput,
  output: ResearchOutput,
  defaultTools: { search: {}, http: {} },
  systemPrompt: RESEARCH_SYSTEM_PROMPT,
  // A fan-out item (forEach) is the topic when the step names none: "research each of these companies".
  offline: (input, ctx, p) =>
    offline(input, ctx, p, p.topic ?? itemText(p.item) ?? input.goal, urlsOf(input, p.urls ?? [])),
  handler: (input, ctx, p) =>
    withModel(input, ctx, p, p.topic ?? itemText(p.item) ?? input.goal, urlsOf(input, p.urls ?? [])),
});
