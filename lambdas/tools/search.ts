/**
 * The `search` tool: ranked full-text search (MiniSearch, BM25+) over a corpus of text/markdown
 * documents. The corpus comes from a `CorpusSource` (list + read), so where documents live is
 * pluggable: a folder and the step's artifacts are implemented here; an S3 prefix belongs to the
 * adapters layer and only needs to implement the same two methods.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import MiniSearch from 'minisearch';
import * as z from 'zod';
import { defineTool, type ToolImplementation } from './define.js';
import { ToolInputError } from './errors.js';
import type { Tool, ToolArtifact } from './types.js';

/* ------------------------------------------------------------------ corpus sources */

export interface CorpusEntry {
  /** Stable id of the document: a relative path, an artifact name, an S3 key. */
  id: string;
  size?: number;
}

/** Where the documents of a corpus come from. An S3 implementation lists a prefix and gets objects. */
export interface CorpusSource {
  list(signal?: AbortSignal): Promise<CorpusEntry[]>;
  read(id: string, signal?: AbortSignal): Promise<string>;
}

export const TEXT_EXTENSIONS = [
  '.md',
  '.markdown',
  '.mdx',
  '.txt',
  '.rst',
  '.adoc',
  '.csv',
  '.json',
  '.html',
  '.htm',
];

export interface FolderCorpusOptions {
  /** File name endings indexed (default: TEXT_EXTENSIONS). */
  extensions?: string[];
  /** Files indexed at most (default 5000). */
  maxFiles?: number;
  /** Larger files are skipped (default 2 MiB). */
  maxFileBytes?: number;
}

/** Text files under `dir` (recursive, symlinks not followed); ids are paths relative to `dir` with `/`. */
export function folderCorpus(dir: string, options: FolderCorpusOptions = {}): CorpusSource {
  const root = path.resolve(dir);
  const extensions = (options.extensions ?? TEXT_EXTENSIONS).map((e) => e.toLowerCase());
  const maxFiles = options.maxFiles ?? 5000;
  const maxFileBytes = options.maxFileBytes ?? 2 * 1024 * 1024;
  return {
    async list() {
      const out: CorpusEntry[] = [];
      async function walk(current: string): Promise<void> {
        const entries = await readdir(current, { withFileTypes: true });
        entries.sort((a, b) => a.name.localeCompare(b.name));
        for (const entry of entries) {
          if (out.length >= maxFiles) return;
          if (entry.name.startsWith('.')) continue;
          const full = path.join(current, entry.name);
          if (entry.isDirectory()) await walk(full);
          else if (entry.isFile() && extensions.some((e) => entry.name.toLowerCase().endsWith(e))) {
            const { size } = await lstat(full);
            if (size <= maxFileBytes)
              out.push({ id: path.relative(root, full).split(path.sep).join('/'), size });
          }
        }
      }
      await walk(root);
      return out;
    },
    async read(id) {
      const full = path.resolve(root, id);
      if (!full.startsWith(`${root}${path.sep}`)) throw new Error(`${id} is outside the corpus folder`);
      return readFile(full, 'utf8');
    },
  };
}

function isTextArtifact(a: ToolArtifact): boolean {
  const type = a.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    TEXT_EXTENSIONS.some((e) => a.name.toLowerCase().endsWith(e))
  );
}

/** In-memory documents: the step's text artifacts (binary ones are skipped). */
export function artifactCorpus(artifacts: readonly ToolArtifact[]): CorpusSource {
  const docs = new Map<string, string>();
  for (const a of artifacts) {
    if (!isTextArtifact(a)) continue;
    docs.set(a.name, typeof a.body === 'string' ? a.body : Buffer.from(a.body).toString('utf8'));
  }
  return {
    async list() {
      return [...docs].map(([id, text]) => ({ id, size: Buffer.byteLength(text) }));
    },
    async read(id) {
      const text = docs.get(id);
      if (text === undefined) throw new Error(`no artifact named ${id}`);
      return text;
    },
  };
}

/* ------------------------------------------------------------------ index */

interface Doc {
  id: string;
  title: string;
  text: string;
}

export interface SearchHit {
  /** Path (folder corpus) or artifact name. */
  id: string;
  /** First heading of the document, or its file name. */
  title: string;
  score: number;
  /** A passage of the document around the matched terms. */
  snippet: string;
  /** Document terms that matched the query. */
  terms: string[];
}

export function documentTitle(id: string, text: string): string {
  const body = text.replace(/^---\r?\n[\s\S]*?\r?\n---\r?\n/, ''); // YAML front matter
  const atx = /^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$/m.exec(body);
  const setext = /^ {0,3}(\S.*?)[ \t]*\r?\n {0,3}(=+|-+)[ \t]*$/m.exec(body);
  const first = [atx, setext].filter((m) => m !== null).sort((a, b) => a.index - b.index)[0];
  if (first?.[1]) return first[1].trim();
  const htmlTitle = /<title>([^<]+)<\/title>/i.exec(body)?.[1]?.trim();
  return htmlTitle || path.posix.basename(id);
}

async function buildIndex(
  source: CorpusSource,
  signal?: AbortSignal,
): Promise<{ index: MiniSearch<Doc>; docs: Map<string, Doc> }> {
  const index = new MiniSearch<Doc>({
    fields: ['title', 'text'],
    storeFields: ['title'],
    searchOptions: {
      boost: { title: 2 },
      prefix: (term) => term.length >= 4,
      fuzzy: (term) => (term.length >= 6 ? 0.2 : false),
    },
  });
  const docs = new Map<string, Doc>();
  for (const entry of await source.list(signal)) {
    signal?.throwIfAborted();
    const text = await source.read(entry.id, signal);
    const doc = { id: entry.id, title: documentTitle(entry.id, text), text };
    docs.set(doc.id, doc);
  }
  index.addAll([...docs.values()]);
  return { index, docs };
}

/** The passage (about `width` chars) holding the most distinct matched terms, on word boundaries. */
export function makeSnippet(text: string, terms: readonly string[], width = 240): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const lower = flat.toLowerCase();
  const hits: { at: number; term: string }[] = [];
  for (const term of terms) {
    const escaped = term.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const m of lower.matchAll(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}`, 'gu'))) {
      hits.push({ at: m.index, term });
    }
  }
  hits.sort((a, b) => a.at - b.at);
  let bestStart = 0;
  let bestCount = -1;
  for (const hit of hits) {
    const start = Math.max(0, hit.at - Math.floor(width / 4));
    const inWindow = new Set(hits.filter((h) => h.at >= start && h.at < start + width).map((h) => h.term));
    if (inWindow.size > bestCount) {
      bestCount = inWindow.size;
      bestStart = start;
    }
  }
  let start = bestStart;
  let end = Math.min(flat.length, start + width);
  if (start > 0) {
    const space = flat.indexOf(' ', start);
    start = space >= 0 && space < start + 30 ? space + 1 : start;
  }
  if (end < flat.length) {
    const space = flat.lastIndexOf(' ', end);
    end = space > start + width / 2 ? space : end;
  }
  return `${start > 0 ? '… ' : ''}${flat.slice(start, end)}${end < flat.length ? ' …' : ''}`;
}

/* ------------------------------------------------------------------ the tool */

/** The search tool's settings (`tools.search` in the Baton config). */
export const SearchToolConfig = z
  .object({
    /** A folder of text/markdown files to search; relative to the config file. */
    corpusDir: z.string().min(1).optional(),
    /** Hits returned at most (default 10). */
    maxResults: z.number().int().positive().optional(),
    /** Build the corpus index once and reuse it for later calls (default true). */
    cacheIndex: z.boolean().optional(),
  })
  .strict();
export type SearchToolConfig = z.infer<typeof SearchToolConfig>;

/** What a config file cannot hold. */
export interface SearchToolOptions {
  /** Any other source (e.g. an S3 prefix from the adapters layer); wins over corpusDir. */
  corpus?: CorpusSource;
}

export const SearchInput = z
  .object({
    query: z.string().trim().min(1, 'give some search terms').max(1000).describe('Search terms'),
    limit: z.number().int().positive().optional().describe('Number of hits to return (default 5)'),
    source: z
      .enum(['corpus', 'artifacts'])
      .optional()
      .describe('"corpus": the configured document collection; "artifacts": the step\'s input files'),
  })
  .strict();
export type SearchInput = z.infer<typeof SearchInput>;

export interface SearchOutput {
  source: 'corpus' | 'artifacts';
  /** Documents searched. */
  documents: number;
  hits: SearchHit[];
}

function searchImplementation(
  config: SearchToolConfig,
  options: SearchToolOptions,
): ToolImplementation<SearchInput, SearchOutput> {
  const corpus = options.corpus ?? (config.corpusDir ? folderCorpus(config.corpusDir) : undefined);
  const maxResults = config.maxResults ?? 10;
  const cache = config.cacheIndex ?? true;
  let cached: ReturnType<typeof buildIndex> | undefined;

  const corpusIndex = (signal?: AbortSignal) => {
    if (!corpus) throw new Error('unreachable: no corpus');
    if (!cache) return buildIndex(corpus, signal);
    cached ??= buildIndex(corpus).catch((err: unknown) => {
      cached = undefined;
      throw err;
    });
    return cached;
  };

  return {
    description:
      'Full-text search (ranked, BM25) over ' +
      (corpus
        ? 'the document collection (source "corpus", default) or the step\'s input files (source "artifacts")'
        : "the step's input files") +
      '. Returns the best matching documents with id, title, score and a snippet around the matched terms.',
    async handler(input, ctx) {
      const source = input.source ?? (corpus ? 'corpus' : 'artifacts');
      if (source === 'corpus' && !corpus) {
        throw new ToolInputError('search', [
          { path: 'source', message: 'no document collection is configured; use source "artifacts"' },
        ]);
      }
      const { index, docs } =
        source === 'corpus'
          ? await corpusIndex(ctx.signal)
          : await buildIndex(artifactCorpus(ctx.artifacts ?? []), ctx.signal);
      const limit = Math.min(input.limit ?? 5, maxResults);
      const results = index.search(input.query);
      const hits = results.slice(0, limit).map((r): SearchHit => {
        const doc = docs.get(String(r.id));
        return {
          id: String(r.id),
          title: doc?.title ?? String(r.id),
          score: Math.round(r.score * 1000) / 1000,
          snippet: doc ? makeSnippet(doc.text, r.terms) : '',
          terms: r.terms,
        };
      });
      return { source, documents: docs.size, hits };
    },
  };
}

/** The `search` tool: BM25 full-text search over a corpus folder or the step's input files. */
export const searchTool = defineTool({
  name: 'search',
  description: "Full-text search (ranked, BM25) over a document collection or the step's input files",
  config: SearchToolConfig,
  input: SearchInput,
  paths: (c, absolute) => (c.corpusDir ? { ...c, corpusDir: absolute(c.corpusDir) } : c),
  factory: searchImplementation,
});

export function createSearchTool(
  config: SearchToolConfig & SearchToolOptions = {},
): Tool<SearchInput, SearchOutput> {
  const { corpus, ...settings } = config;
  return searchTool.create(settings, corpus ? { corpus } : {});
}
