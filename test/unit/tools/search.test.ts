import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ToolInputError } from '../../../lambdas/tools/errors.js';
import {
  artifactCorpus,
  createSearchTool,
  documentTitle,
  folderCorpus,
  makeSnippet,
} from '../../../lambdas/tools/search.js';
import type { ToolContext } from '../../../lambdas/tools/types.js';

const corpusDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/tools/corpus');
const ctx: ToolContext = { taskId: 't-1', stepId: 'research' };

describe('search tool over a folder corpus', () => {
  const tool = createSearchTool({ corpusDir });
  const search = (query: string, limit?: number) =>
    tool.handler(tool.inputSchema.parse({ query, limit }), ctx);

  it('ranks the relevant document first', async () => {
    // Act
    const approvals = await search('task token approval timeout');
    const store = await search('dynamodb partition events');
    const retries = await search('exponential backoff jitter');
    // Assess
    expect(approvals.hits[0]).toMatchObject({ id: 'approvals.md', title: 'Human approval gates' });
    expect(store.hits[0]).toMatchObject({ id: 'state-store.md', title: 'State store' });
    expect(retries.hits[0]).toMatchObject({ id: 'notes/retries.txt', title: 'retries.txt' });
    expect(approvals.hits[0]?.score).toBeGreaterThan(approvals.hits[1]?.score ?? 0);
  });

  it('returns a snippet holding the matched terms', async () => {
    // Act
    const out = await search('mail scanners prefetch');
    // Assess
    const top = out.hits[0];
    expect(top?.id).toBe('approvals.md');
    expect(top?.terms.sort()).toEqual(['mail', 'prefetch', 'scanners']);
    expect(top?.snippet).toContain('mail scanners prefetch GET requests');
  });

  it('indexes text files only, recursively, and honours the limit', async () => {
    // Act
    const entries = await folderCorpus(corpusDir).list();
    const limited = await search('the', 2);
    // Assess
    expect(entries.map((e) => e.id)).toEqual([
      'approvals.md',
      'local-mode.md',
      'notes/retries.txt',
      'state-store.md',
    ]);
    expect(limited.documents).toBe(4);
    expect(limited.hits).toHaveLength(2);
  });

  it('finds nothing for terms absent from the corpus', async () => {
    // Act
    const out = await search('kubernetes');
    // Assess
    expect(out.hits).toEqual([]);
  });
});

describe('search tool over artifacts', () => {
  it("searches the step's text artifacts when asked (and by default without a corpus)", async () => {
    // Prepare
    const withCorpus = createSearchTool({ corpusDir });
    const artifactsOnly = createSearchTool();
    const artifactCtx: ToolContext = {
      ...ctx,
      artifacts: [
        {
          name: 'draft.md',
          contentType: 'text/markdown',
          body: '# Draft\nThe quarterly revenue grew in the north.',
        },
        {
          name: 'facts.txt',
          contentType: 'text/plain',
          body: new TextEncoder().encode('Pears outsold apples.'),
        },
        { name: 'logo.png', contentType: 'image/png', body: new Uint8Array([0, 1, 2]) },
      ],
    };
    // Act
    const explicit = await withCorpus.handler(
      withCorpus.inputSchema.parse({ query: 'revenue', source: 'artifacts' }),
      artifactCtx,
    );
    const implicit = await artifactsOnly.handler(
      artifactsOnly.inputSchema.parse({ query: 'pears' }),
      artifactCtx,
    );
    // Assess
    expect(explicit).toMatchObject({ source: 'artifacts', documents: 2 });
    expect(explicit.hits.map((h) => h.id)).toEqual(['draft.md']);
    expect(explicit.hits[0]?.title).toBe('Draft');
    expect(implicit.hits.map((h) => h.id)).toEqual(['facts.txt']);
  });

  it('refuses the corpus source when none is configured', async () => {
    // Prepare
    const tool = createSearchTool();
    // Act
    const call = tool.handler(tool.inputSchema.parse({ query: 'x', source: 'corpus' }), ctx);
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolInputError);
  });

  it('exposes artifacts through the CorpusSource interface', async () => {
    // Prepare
    const source = artifactCorpus([{ name: 'a.md', contentType: 'text/markdown', body: 'alpha' }]);
    // Act
    const list = await source.list();
    const text = await source.read('a.md');
    // Assess
    expect(list).toEqual([{ id: 'a.md', size: 5 }]);
    expect(text).toBe('alpha');
  });
});

describe('search helpers', () => {
  it('takes the first heading as the title (ATX or setext), else the file name', () => {
    // Assess
    expect(documentTitle('x.md', 'intro\n\n## Second level\n# Later')).toBe('Second level');
    expect(documentTitle('x.md', 'Big Title\n=========\n\n# Later')).toBe('Big Title');
    expect(documentTitle('dir/plain.txt', 'no headings here')).toBe('plain.txt');
  });

  it('centres the snippet on the densest cluster of matched terms', () => {
    // Prepare
    const text = `${'filler '.repeat(100)}alpha beta gamma${' filler'.repeat(100)} alpha`;
    // Act
    const snippet = makeSnippet(text, ['alpha', 'beta', 'gamma'], 80);
    // Assess
    expect(snippet).toContain('alpha beta gamma');
    expect(snippet.startsWith('… ')).toBe(true);
    expect(snippet.endsWith(' …')).toBe(true);
  });
});
