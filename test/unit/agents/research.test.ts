import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitSources } from '../../../lambdas/agents/citations.js';
import { resolveAgentSettings } from '../../../lambdas/agents/registry.js';
import {
  pickSentences,
  type ResearchOutput,
  research,
  scoreSentences,
  withoutHeading,
} from '../../../lambdas/agents/research.js';
import { ErrorNames } from '../../../lambdas/core/errors.js';
import { FACETS } from '../../../lambdas/orchestrator/offline-planner.js';
import { agentInput, artifactText, DOCS_DIR, runAgent } from './helpers.js';

const corpus = resolveAgentSettings('research', { tools: { search: { corpusDir: DOCS_DIR } } });

describe('research agent (offline)', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/heat-pumps.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          '<html><head><title>Heat pump guide</title><script>var x = "heat pump";</script></head><body>' +
            '<h1>Guide</h1><p>A heat pump can cut heating emissions by more than half compared with a gas boiler.</p>' +
            '<p>Unrelated footer text.</p></body></html>',
        );
      } else {
        res.writeHead(404).end('not here');
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('searches the corpus folder and writes notes whose every finding cites a listed source', async () => {
    // Act
    const { out, events } = await runAgent(
      research,
      agentInput({ agent: 'research', input: { topic: 'heat pumps', focus: FACETS[1] } }),
      { settings: corpus },
    );
    // Assess
    const notes = artifactText(out, 'notes.md');
    const { body, sources } = splitSources(notes);
    const findings = body.split('\n').filter((l) => l.startsWith('- '));
    expect(findings.length).toBeGreaterThanOrEqual(3);
    for (const f of findings) expect(sources.has(Number(/\[(\d+)\]$/.exec(f)?.[1]))).toBe(true);
    expect(notes).toContain(
      'Refrigerant leaks are a risk, because many refrigerants are strong greenhouse gases.',
    );
    expect([...sources.values()]).toContain('Costs and limits of heat pumps (heat-pump-costs.md)');
    expect([...sources.values()].join()).not.toMatch(/solar|insulat/i); // off-topic documents are left out
    const output = out.output as ResearchOutput;
    expect(output).toMatchObject({
      topic: 'heat pumps',
      focus: FACETS[1],
      mode: 'offline',
      findings: findings.length,
      fetched: [],
    });
    expect(events.length).toBeGreaterThan(1);
    expect(
      events.every((e) => e.type === 'ToolCalled' && e.data.tool === 'search' && e.data.outcome === 'ok'),
    ).toBe(true);
  });

  it('searches the task documents, citing them by title', async () => {
    const inputs = {
      documents: [
        { title: 'Solar', text: 'Solar power converts sunlight. Solar panels are cheap now.' },
        { title: 'Wind', text: 'Wind power uses turbines. Offshore wind is strong.' },
      ],
    };
    const { out } = await runAgent(
      research,
      agentInput({ agent: 'research', input: { topic: 'wind power' }, inputs }),
    );
    const notes = artifactText(out, 'notes.md');
    expect(notes).toContain('- Offshore wind is strong. [1]');
    expect(notes).toContain('[1] Wind (inputs.documents[1])');
  });

  it('fetches given URLs and cites the pages; a refused address is noted and audited, not fatal', async () => {
    // Prepare
    const settings = resolveAgentSettings('research', { tools: { http: { allowPrivate: ['127.0.0.1'] } } });
    const urls = [`${base}/heat-pumps.html`, 'http://169.254.169.254/latest/meta-data/', `${base}/missing`];
    // Act
    const { out, events } = await runAgent(
      research,
      agentInput({ agent: 'research', input: { topic: 'heat pumps', urls } }),
      { settings },
    );
    // Assess
    const notes = artifactText(out, 'notes.md');
    expect(notes).toContain(
      '- A heat pump can cut heating emissions by more than half compared with a gas boiler. [1]',
    );
    expect(notes).toContain(`[1] Heat pump guide <${base}/heat-pumps.html>`);
    expect(notes).toContain(
      'Could not fetch http://169.254.169.254/latest/meta-data/: Refused to connect to 169.254.169.254',
    );
    expect((out.output as ResearchOutput).fetched).toEqual([
      { url: urls[0], ok: true },
      {
        url: urls[1],
        ok: false,
        error: expect.stringMatching(/^SsrfBlockedError: Refused to connect to 169\.254\.169\.254/),
      },
      { url: urls[2], ok: false, error: 'HTTP 404 Not Found' },
    ]);
    const http = events.filter((e) => e.data.tool === 'http');
    expect(http.map((e) => e.data.outcome)).toEqual(['ok', 'error', 'ok']);
    expect(http[1]?.data.error).toMatchObject({
      name: 'SsrfBlockedError',
      message: expect.stringContaining('link-local'),
    });
  });

  it('says so when nothing is found, instead of inventing', async () => {
    const { out } = await runAgent(
      research,
      agentInput({ agent: 'research', input: { topic: 'quantum chromodynamics' } }),
      { settings: corpus },
    );
    expect(out.summary).toMatch(/^No sourced findings on "quantum chromodynamics"/);
    expect(artifactText(out, 'notes.md')).toContain('nothing here is sourced');
  });

  it('refuses bad input with a non-retryable error naming the field', async () => {
    const err = await runAgent(
      research,
      agentInput({ agent: 'research', input: { topic: 'x', urls: ['ftp://x'], extra: 1 } }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: ErrorNames.NonRetryable });
    expect((err as Error).message).toMatch(
      /^research input is not valid: input\.urls\.0: use an absolute http\(s\) URL; input: Unrecognized key: "extra"/,
    );
  });

  it('keeps whole sentences about the topic from a snippet', () => {
    const snippet =
      '… the air. ## Limits The efficiency of a heat pump falls in cold weather. Outdoor units make some …';
    expect(pickSentences(snippet, ['heat', 'pumps'], 3)).toEqual([
      'The efficiency of a heat pump falls in cold weather.',
    ]);
    expect(withoutHeading('How it works The pump moves heat.')).toBe('The pump moves heat.');
  });
});

describe('sentences from upstream research notes', () => {
  it('drops bullets, old citation marks and source-list lines', () => {
    // Prepare: a notes artifact as the search tool flattens it into a snippet
    const snippet =
      'Research notes: solar power - Solar panels are cheap now. [1] - Solar output peaks at noon. [1] Sources [1] Solar (inputs.documents[0])';
    // Act
    const found = scoreSentences(snippet, ['solar'], { title: 'Research notes: solar power' }).map(
      (x) => x.s,
    );
    // Assess
    expect(found).toEqual(['Solar panels are cheap now.', 'Solar output peaks at noon.']);
  });
});
