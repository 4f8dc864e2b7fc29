import { describe, expect, it } from 'vitest';
import {
  checkCitations,
  mergeCitations,
  renderNotes,
  splitSources,
} from '../../../lambdas/agents/citations.js';
import { compactCitations } from '../../../lambdas/agents/writing.js';

describe('citations', () => {
  it('splits a sources section from the body and reads its numbered entries', () => {
    // Prepare
    const md =
      '# Notes\n\n- Wind is strong. [2]\n- Sun is cheap. [1]\n\n## Sources\n\n[1] Solar (a.md)\n- [2] Wind (b.md)\n\n## Next\n\ntext';
    // Act
    const split = splitSources(md);
    // Assess
    expect([...split.sources]).toEqual([
      [1, 'Solar (a.md)'],
      [2, 'Wind (b.md)'],
    ]);
    expect(split.body).toBe('# Notes\n\n- Wind is strong. [2]\n- Sun is cheap. [1]\n\n## Next\n\ntext');
  });

  it('renumbers citations of several documents into one list, a source keeping one number', () => {
    // Prepare: both documents cite "Solar" and "Wind", numbered differently
    const a = splitSources(
      renderNotes({
        title: 'A',
        findings: [
          { text: 'Sun.', source: 1 },
          { text: 'Breeze.', source: 2 },
        ],
        sources: ['Solar', 'Wind'],
      }),
    );
    const b = splitSources(
      renderNotes({
        title: 'B',
        findings: [
          { text: 'Gusts.', source: 1 },
          { text: 'Panels.', source: 2 },
        ],
        sources: ['Wind', 'Solar'],
      }),
    );
    // Act
    const merged = mergeCitations([a, b]);
    // Assess
    expect(merged.sources).toEqual(['Solar', 'Wind']);
    expect(merged.bodies[0]).toContain('- Sun. [1]\n- Breeze. [2]');
    expect(merged.bodies[1]).toContain('- Gusts. [2]\n- Panels. [1]');
  });

  it('marks a citation without a source as [?] and leaves links alone', () => {
    const merged = mergeCitations([
      { body: 'Claim [3]. See [1](http://x) and [1].', sources: new Map([[1, 'One']]) },
    ]);
    expect(merged.bodies[0]).toBe('Claim [?]. See [1](http://x) and [1].');
  });

  it('finds dangling and uncited sources', () => {
    const check = checkCitations('Text [1] and [4].\n\n## References\n\n[1] A\n[2] B\n');
    expect(check.markers).toEqual([1, 4]);
    expect(check.dangling).toEqual([4]);
    expect(check.uncited).toEqual([2]);
  });

  it('keeps only cited sources, renumbered by first citation', () => {
    const out = compactCitations('x [3] y [1] z [3]', ['One', 'Two', 'Three']);
    expect(out).toEqual({ body: 'x [1] y [2] z [1]', sources: ['Three', 'One'] });
  });
});
