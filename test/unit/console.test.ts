/** The console's pure pieces: the DAG layout, artifact previews (CSV, kinds), markdown safety, durations. */
import { describe, expect, it } from 'vitest';
import {
  fanOutBar,
  formatDuration,
  layoutPlan,
  NODE_WIDTH,
  stepDurationMs,
} from '../../lib/console/src/graph.js';
import { renderMarkdown } from '../../lib/console/src/markdown.js';
import { formatBytes, parseCsv, prettyJson, previewKind } from '../../lib/console/src/preview.js';

const step = (id: string, dependsOn: string[] = []) => ({
  id,
  agent: 'research',
  dependsOn,
  status: 'PENDING',
  attempts: 0,
});

describe('layoutPlan', () => {
  it('lays a diamond out left to right: the root first, the two branches side by side, the join last', () => {
    // Act
    const layout = layoutPlan([step('a'), step('b', ['a']), step('c', ['a']), step('d', ['b', 'c'])]);
    // Assess
    const x = Object.fromEntries(layout.nodes.map((n) => [n.id, n.x]));
    const y = Object.fromEntries(layout.nodes.map((n) => [n.id, n.y]));
    expect(x.a).toBeLessThan(x.b as number);
    expect(x.b).toBe(x.c);
    expect(x.c).toBeLessThan(x.d as number);
    expect(y.b).not.toBe(y.c);
    expect(layout.edges.map((e) => `${e.from}->${e.to}`).sort()).toEqual(['a->b', 'a->c', 'b->d', 'c->d']);
    for (const e of layout.edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
    for (const n of layout.nodes) {
      expect(n.x).toBeGreaterThanOrEqual(0);
      expect(n.x + n.width).toBeLessThanOrEqual(layout.width);
      expect(n.y + n.height).toBeLessThanOrEqual(layout.height);
    }
  });

  it('draws a single step, and leaves out an edge to a step that is not in the plan', () => {
    // Act
    const layout = layoutPlan([step('only', ['ghost'])]);
    // Assess
    expect(layout.nodes).toHaveLength(1);
    expect(layout.edges).toEqual([]);
    expect(layout.width).toBeGreaterThanOrEqual(NODE_WIDTH);
  });
});

describe('a fan-out node', () => {
  it('draws its items as one progress bar: succeeded, failed and running parts, and says the counts', () => {
    expect(
      fanOutBar({ total: 10_000, succeeded: 5000, failed: 250, running: 100, pending: 4650 }, 180),
    ).toEqual({
      succeeded: 90,
      failed: 5,
      running: 2,
      label: '5250/10000 done · 250 failed · 100 running',
    });
    expect(fanOutBar({ total: 0, succeeded: 0, failed: 0, running: 0, pending: 0 }, 180)).toEqual({
      succeeded: 0,
      failed: 0,
      running: 0,
      label: '0/0 done',
    });
    const full = fanOutBar({ total: 3, succeeded: 2, failed: 1, running: 0, pending: 0 }, 100);
    expect(full.succeeded + full.failed + full.running).toBeLessThanOrEqual(100);
  });
});

describe('durations', () => {
  it('counts from start to end, or to now while the step runs', () => {
    const startedAt = '2026-01-01T00:00:00.000Z';
    expect(stepDurationMs({ startedAt, endedAt: '2026-01-01T00:00:01.500Z' }, 0)).toBe(1500);
    expect(stepDurationMs({ startedAt }, Date.parse('2026-01-01T00:00:02.000Z'))).toBe(2000);
    expect(stepDurationMs({}, 0)).toBeUndefined();
    expect([formatDuration(850), formatDuration(12_300), formatDuration(125_000)]).toEqual([
      '850 ms',
      '12.3 s',
      '2 min 5 s',
    ]);
  });
});

describe('CSV previews', () => {
  it('reads RFC 4180: quotes, doubled quotes, commas and line breaks in quotes, CRLF, a BOM', () => {
    // Act
    const { rows, truncated } = parseCsv(
      '\uFEFFname,note\r\n"Smith, Ada","said ""hi""\nthen left"\r\nBob,\n',
    );
    // Assess
    expect(rows).toEqual([
      ['name', 'note'],
      ['Smith, Ada', 'said "hi"\nthen left'],
      ['Bob', ''],
    ]);
    expect(truncated).toBe(false);
  });

  it('stops at maxRows and says so', () => {
    const text = Array.from({ length: 10 }, (_, i) => `r${i},${i}`).join('\n');
    expect(parseCsv(text, 3)).toEqual({
      rows: [
        ['r0', '0'],
        ['r1', '1'],
        ['r2', '2'],
      ],
      truncated: true,
    });
  });
});

describe('preview kinds', () => {
  it.each([
    ['text/markdown', 'notes.md', 'markdown'],
    ['application/json; charset=utf-8', 'x', 'json'],
    ['application/vnd.api+json', 'x', 'json'],
    ['text/csv', 'result.csv', 'csv'],
    ['application/octet-stream', 'result.csv', 'csv'],
    ['text/plain', 'log', 'text'],
    ['image/png', 'chart.png', 'none'],
  ])('%s (%s) previews as %s', (type, name, kind) => {
    expect(previewKind(type, name)).toBe(kind);
  });

  it('pretty-prints JSON and leaves other text alone; sizes read as people do', () => {
    expect(prettyJson('{"a":[1]}')).toBe('{\n  "a": [\n    1\n  ]\n}');
    expect(prettyJson('not json')).toBe('not json');
    expect([formatBytes(512), formatBytes(1536), formatBytes(5 * 1024 * 1024)]).toEqual([
      '512 B',
      '1.5 KiB',
      '5.0 MiB',
    ]);
  });
});

describe('markdown previews of agent output', () => {
  it('renders markdown, shows raw HTML as text, drops script links and remote images', () => {
    // Act
    const out = renderMarkdown(
      '# Brief\n\n<script>alert(1)</script>\n\n[ok](https://example.com) [bad](javascript:alert(1)) ![x](https://evil.example/t.png)',
    );
    // Assess
    expect(out).toContain('<h1>Brief</h1>');
    expect(out).not.toContain('<script>');
    expect(out).toContain('&lt;script&gt;');
    expect(out).toContain('<a href="https://example.com"');
    expect(out).not.toContain('javascript:');
    expect(out).not.toContain('<img');
  });
});
