/**
 * Numbered citations in markdown: a claim ends with `[n]` and a `## Sources` section lists
 * `[n] label`. Research writes them, writing carries them over (renumbered across documents,
 * one consolidated list), review checks them. Pure functions.
 */

export interface Finding {
  text: string;
  /** 1-based number of the source in `sources`. */
  source: number;
}

/** A `[n]` marker that is not a link (`[1](...)`) or a reference definition (`[1]: ...`). */
const MARKER = /\[(\d{1,4})\](?![(:])/g;
const SOURCES_HEADING = /^(#{1,6})\s+(sources|references|bibliography|citations)\s*#*\s*$/i;
const SOURCE_LINE = /^\s*(?:[-*]\s*)?\[(\d{1,4})\]:?\s+(.+?)\s*$/;

export interface SplitDocument {
  /** The markdown without its sources section. */
  body: string;
  /** Local number -> label. */
  sources: Map<number, string>;
}

/** Separates a markdown document's sources section(s) from its body. */
export function splitSources(markdown: string): SplitDocument {
  const lines = markdown.split(/\r?\n/);
  const body: string[] = [];
  const sources = new Map<number, string>();
  let inSources = 0; // heading level of the sources section we are in, 0 = none
  for (const line of lines) {
    const heading = /^(#{1,6})\s/.exec(line);
    if (heading) {
      const level = heading[1]?.length ?? 1;
      const isSources = SOURCES_HEADING.test(line);
      if (isSources) {
        inSources = level;
        continue;
      }
      if (inSources && level <= inSources) inSources = 0;
    }
    if (inSources) {
      const m = SOURCE_LINE.exec(line);
      if (m?.[1] && m[2]) sources.set(Number(m[1]), m[2]);
      continue;
    }
    body.push(line);
  }
  return { body: body.join('\n').trim(), sources };
}

/** The citation numbers used in a text, in order of appearance (repeats kept). */
export function citationMarkers(text: string): number[] {
  return [...text.matchAll(MARKER)].map((m) => Number(m[1]));
}

export interface MergedCitations {
  /** Each document's body with its markers renumbered. */
  bodies: string[];
  /** Consolidated labels; label i is cited as `[i + 1]`. */
  sources: string[];
}

/**
 * Renumbers the citations of several documents into one list: a source (by label) keeps one
 * number everywhere, numbered in order of first citation. A marker with no source in its
 * document becomes `[?]`.
 */
export function mergeCitations(docs: readonly SplitDocument[]): MergedCitations {
  const numbers = new Map<string, number>();
  const sources: string[] = [];
  const numberOf = (label: string) => {
    let n = numbers.get(label);
    if (n === undefined) {
      sources.push(label);
      n = sources.length;
      numbers.set(label, n);
    }
    return n;
  };
  const bodies = docs.map((doc) =>
    doc.body.replace(MARKER, (_m, local: string) => {
      const label = doc.sources.get(Number(local));
      return label === undefined ? '[?]' : `[${numberOf(label)}]`;
    }),
  );
  for (const doc of docs) for (const label of doc.sources.values()) numberOf(label);
  return { bodies, sources };
}

export function renderSources(labels: readonly string[], heading = '## Sources'): string {
  return [heading, '', ...labels.map((l, i) => `[${i + 1}] ${l}`)].join('\n');
}

/** Research notes: a title, cited findings as a list, notes, and the sources. */
export function renderNotes(o: {
  title: string;
  findings: readonly Finding[];
  sources: readonly string[];
  notes?: readonly string[];
  empty?: string;
}): string {
  const lines = [`# ${o.title}`, ''];
  if (o.findings.length === 0) lines.push(o.empty ?? 'No sourced findings.', '');
  for (const f of o.findings) lines.push(`- ${f.text} [${f.source}]`);
  if (o.findings.length) lines.push('');
  for (const n of o.notes ?? []) lines.push(`> ${n}`, '');
  if (o.sources.length) lines.push(renderSources(o.sources), '');
  return `${lines.join('\n').trim()}\n`;
}

export interface CitationCheck {
  markers: number[];
  sources: Map<number, string>;
  /** Cited numbers with no source entry. */
  dangling: number[];
  /** Sources never cited. */
  uncited: number[];
}

export function checkCitations(markdown: string): CitationCheck {
  const { body, sources } = splitSources(markdown);
  const markers = citationMarkers(body);
  const cited = new Set(markers);
  return {
    markers,
    sources,
    dangling: [...cited].filter((n) => !sources.has(n)).sort((a, b) => a - b),
    uncited: [...sources.keys()].filter((n) => !cited.has(n)).sort((a, b) => a - b),
  };
}
