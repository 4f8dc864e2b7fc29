import { describe, expect, it } from 'vitest';
import { checkCitations, renderNotes } from '../../../lambdas/agents/citations.js';
import { type ReviewOutput, review } from '../../../lambdas/agents/review.js';
import { type WritingOutput, writing } from '../../../lambdas/agents/writing.js';
import { ErrorNames } from '../../../lambdas/core/errors.js';
import { agentInput, artifactText, runAgent, Upstream } from './helpers.js';

const notes = (title: string, findings: [string, number][], sources: string[]) =>
  renderNotes({ title, findings: findings.map(([text, source]) => ({ text, source })), sources });

function researched(): Upstream {
  return new Upstream()
    .add('research-1', 'research', [
      {
        name: 'notes.md',
        contentType: 'text/markdown',
        body: notes(
          'Research notes: solar',
          [
            ['Panels are cheap.', 1],
            ['Wind helps at night.', 2],
          ],
          ['Solar (a.md)', 'Wind (b.md)'],
        ),
      },
    ])
    .add('research-2', 'research', [
      {
        name: 'notes.md',
        contentType: 'text/markdown',
        body: notes(
          'Research notes: wind',
          [
            ['Offshore wind is strong.', 1],
            ['Panels are cheap.', 2],
          ],
          ['Wind (b.md)', 'Solar (a.md)'],
        ),
      },
    ]);
}

describe('writing agent (offline)', () => {
  it('composes a document from upstream results with one renumbered source list', async () => {
    // Act
    const { out } = await runAgent(writing, agentInput({ agent: 'writing', input: { title: 'Energy' } }), {
      upstream: researched(),
    });
    // Assess
    const doc = artifactText(out, 'document.md');
    expect(doc).toContain(
      '# Energy\n\n## From research-1 (research)\n\nresearch-1 done\n\n### Research notes: solar',
    );
    expect(doc).toContain('- Offshore wind is strong. [2]');
    expect(doc).toContain('- Panels are cheap. [1]');
    expect(doc.match(/^## Sources$/gm)).toHaveLength(1);
    expect(doc.endsWith('## Sources\n\n[1] Solar (a.md)\n[2] Wind (b.md)\n')).toBe(true);
    expect(checkCitations(doc).dangling).toEqual([]);
    expect(out.output).toMatchObject({
      title: 'Energy',
      format: 'document',
      mode: 'offline',
      upstream: ['research-1', 'research-2'],
      sources: 2,
    } satisfies Partial<WritingOutput>);
  });

  it('writes a brief within its word limit: summary, deduplicated key findings taken in turn, cited sources only', async () => {
    const { out } = await runAgent(
      writing,
      agentInput({ agent: 'writing', input: { title: 'Brief', format: 'brief', maxWords: 60 } }),
      { upstream: researched() },
    );
    const doc = artifactText(out, 'document.md');
    expect(doc).toMatch(
      /^# Brief\n\n## Summary\n\nThis brief brings together the results of research-1, research-2/,
    );
    expect(doc).toContain(
      '## Key findings\n\n- Panels are cheap. [1]\n- Offshore wind is strong. [2]\n- Wind helps at night. [2]\n',
    );
    expect(doc.match(/Panels are cheap/g)).toHaveLength(1);
    expect((out.output as WritingOutput).words).toBeLessThanOrEqual(60);
  });

  it('renders upstream CSV tables', async () => {
    const up = new Upstream().add('data', 'data', [
      { name: 'result.csv', contentType: 'text/csv', body: 'region,total\nnorth,30\n"so|uth",12\n' },
    ]);
    const { out } = await runAgent(writing, agentInput({ agent: 'writing', input: { format: 'brief' } }), {
      upstream: up,
    });
    expect(artifactText(out, 'document.md')).toContain(
      '| region | total |\n| --- | --- |\n| north | 30 |\n| so\\|uth | 12 |',
    );
  });

  it('refuses bad input clearly', async () => {
    const err = await runAgent(writing, agentInput({ agent: 'writing', input: { format: 'poem' } })).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      name: ErrorNames.NonRetryable,
      message: expect.stringMatching(/^writing input is not valid: input\.format: /),
    });
  });
});

describe('review agent (offline)', () => {
  const doc = (body: string) =>
    new Upstream().add('write', 'writing', [{ name: 'document.md', contentType: 'text/markdown', body }]);
  const good = '# Brief\n\n## Summary\n\nShort. [1]\n\n## Sources\n\n[1] A source\n';

  it('passes a document that meets the criteria and reports what it checked', async () => {
    const { out } = await runAgent(
      review,
      agentInput({
        agent: 'review',
        input: { requiredSections: ['Summary', 'Sources'], requireCitations: true, maxWords: 50 },
      }),
      {
        upstream: doc(good),
      },
    );
    expect(out.output).toEqual({
      verdict: 'pass',
      reasons: [],
      checked: ['write/document.md'],
      mode: 'offline',
    } satisfies ReviewOutput);
    expect(artifactText(out, 'review.md')).toContain('# Review: PASS');
  });

  it('fails the step with every reason, non-retryably', async () => {
    const bad = '# Brief\n\nNo summary here, but a claim [2].\n\n## Sources\n\n[1] A source\n';
    const err = await runAgent(
      review,
      agentInput({
        agent: 'review',
        input: { requiredSections: ['Summary'], requireCitations: true, minWords: 100 },
      }),
      {
        upstream: doc(bad),
      },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: ErrorNames.NonRetryable });
    expect((err as Error).message).toBe(
      'Review failed (3 reasons): write/document.md has no "Summary" section; ' +
        'write/document.md cites [2] but its Sources list has no such entry; write/document.md has 14 words; at least 100 are required',
    );
  });

  it('reports a failing verdict without failing the step when failOnReject is false', async () => {
    const { out } = await runAgent(
      review,
      agentInput({ agent: 'review', input: { requireCitations: true, failOnReject: false } }),
      { upstream: doc('# Plain\n\nNo citations.') },
    );
    expect(out.output).toMatchObject({
      verdict: 'fail',
      reasons: [
        'write/document.md cites no sources (no [n] citation markers)',
        'write/document.md has no Sources section listing "[n] source" entries',
      ],
    });
    expect(out.summary).toMatch(/^Review failed \(2 reasons, not enforced\)/);
  });

  it('checks JSON artifacts (else outputs) against a JSON schema, and expected output fields', async () => {
    const up = new Upstream()
      .add('a', 'data', [{ name: 'x.json', contentType: 'application/json', body: '{"total": "12"}' }])
      .add('b', 'coding', [], { output: { passed: false } });
    const err = await runAgent(
      review,
      agentInput({
        agent: 'review',
        input: {
          jsonSchema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] },
          expectOutput: { passed: true },
        },
      }),
      { upstream: up },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toContain('a/x.json does not match the JSON schema: total: ');
    expect((err as Error).message).toContain('a output.passed is missing; expected true');
    expect((err as Error).message).toContain('b output.passed is false; expected true');
  });

  it('has nothing to approve without upstream steps', async () => {
    const err = await runAgent(review, agentInput({ agent: 'review' })).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'Review failed (1 reason): there is nothing to review: the step has no upstream steps',
    );
  });
});
