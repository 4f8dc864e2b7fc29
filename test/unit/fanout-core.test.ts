/** The pure parts of fan-out steps (lambdas/core/fanout.ts) and their outcome (lambdas/core/outcome.ts). */

import { describe, expect, it } from 'vitest';
import {
  countLines,
  fanOutSummary,
  type ItemResultLine,
  ItemsUnavailableError,
  isFinalSuccess,
  itemInput,
  itemsFromOutput,
  mergeResults,
  parseItemsRef,
  parseResultsJsonl,
  resultsJsonl,
  withinTolerance,
} from '../../lambdas/core/fanout.js';
import { itemsFromText } from '../../lambdas/core/fanout-items.js';
import { decideOutcome } from '../../lambdas/core/outcome.js';
import { normalizeStep } from '../../lambdas/core/plan.js';
import { LIMITS, type Plan } from '../../lambdas/core/schemas.js';

describe('fan-out items', () => {
  it('reads every form of forEach.items', () => {
    expect(parseItemsRef('inputs.datasets.companies.csv')).toEqual({
      kind: 'dataset',
      name: 'companies.csv',
    });
    expect(parseItemsRef('steps.rows.output.data.rows')).toEqual({
      kind: 'output',
      stepId: 'rows',
      path: ['data', 'rows'],
    });
    expect(parseItemsRef('steps.rows.artifacts.result.csv')).toEqual({
      kind: 'artifact',
      stepId: 'rows',
      name: 'result.csv',
    });
    expect(parseItemsRef('s3://my-bucket/in/2026/')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'in/2026/',
    });
  });

  it('reads CSV rows as objects, JSON Lines and JSON arrays, by content type or file name', () => {
    expect(itemsFromText('name,city\nAcme,Oslo\n"B, Inc",Rome\n', 'text/csv', 'x')).toEqual([
      { name: 'Acme', city: 'Oslo' },
      { name: 'B, Inc', city: 'Rome' },
    ]);
    expect(itemsFromText('{"a":1}\n\n[2]\n"three"\n', 'application/jsonl', 'x')).toEqual([
      { a: 1 },
      [2],
      'three',
    ]);
    expect(itemsFromText('{"a":1}\n{"a":2}\n', 'application/octet-stream', 'x', 'rows.jsonl')).toEqual([
      { a: 1 },
      { a: 2 },
    ]);
    expect(itemsFromText('[1,{"b":2}]', 'application/json; charset=utf-8', 'x')).toEqual([1, { b: 2 }]);
  });

  it('says what is wrong with items it cannot read', () => {
    const errors = [
      () => itemsFromText('{"a":1}', 'application/json', 'artifact rows.json of step a'),
      () => itemsFromText('hello', 'text/plain', 'artifact notes.md of step a'),
      () => itemsFromText('{"a":1}\nnot json\n', 'application/jsonl', 'x'),
      () => itemsFromOutput({ rows: { n: 1 } }, ['rows'], 'steps.a.output.rows'),
      () => itemsFromOutput({}, ['rows'], 'steps.a.output.rows'),
      () => itemsFromText(JSON.stringify(Array(LIMITS.maxFanOutItems + 1).fill(0)), 'application/json', 'x'),
      () => itemsFromText(JSON.stringify(['y'.repeat(LIMITS.maxItemBytes)]), 'application/json', 'x'),
    ].map((f) => {
      try {
        f();
        return 'no error';
      } catch (err) {
        expect(err).toBeInstanceOf(ItemsUnavailableError);
        return (err as Error).message;
      }
    });
    expect(errors).toEqual([
      'artifact rows.json of step a is not a JSON array',
      'artifact notes.md of step a is text/plain: items are read from CSV, JSON Lines or a JSON array',
      'x line 2 is not JSON',
      'steps.a.output.rows is not an array (it is an object)',
      'steps.a.output.rows is not an array (it is not there)',
      `x has ${LIMITS.maxFanOutItems + 1} items; a fan-out step takes at most ${LIMITS.maxFanOutItems}`,
      `x item 0 is ${LIMITS.maxItemBytes + 2} bytes; an item is at most ${LIMITS.maxItemBytes} (pass a reference to larger data)`,
    ]);
  });

  it("gives each item's agent the step's input plus item and index", () => {
    expect(
      itemInput({ input: { focus: 'funding', index: 'mine' } }, { index: 4, item: { name: 'Acme' } }),
    ).toEqual({
      focus: 'funding',
      item: { name: 'Acme' },
      index: 4,
    });
  });
});

describe('fan-out results', () => {
  const ok = (index: number): ItemResultLine => ({ index, status: 'SUCCEEDED', summary: `item ${index}` });
  const failed = (index: number): ItemResultLine => ({
    index,
    status: 'FAILED',
    error: { name: 'Baton.AgentFailed', message: 'no' },
  });
  const notRun = { name: 'Baton.ItemNotRun', message: 'not run' };

  it('writes results.jsonl in index order and reads it back', () => {
    const text = resultsJsonl([ok(2), failed(0), ok(1)]);
    expect(text.split('\n').map((l) => (l ? JSON.parse(l).index : l))).toEqual([0, 1, 2, '']);
    expect(parseResultsJsonl(text)).toEqual([failed(0), ok(1), ok(2)]);
  });

  it('merges a redrive over the run before, and counts items that never ran as failed', () => {
    const merged = mergeResults(4, [ok(0), failed(1), failed(2)], [ok(2)], notRun);
    expect(merged).toEqual([ok(0), failed(1), ok(2), { index: 3, status: 'FAILED', error: notRun }]);
    expect(countLines(merged)).toEqual({ total: 4, succeeded: 2, failed: 2, failedIndexes: [1, 3] });
  });

  it('tolerates failed items up to the percentage, as a Distributed Map does', () => {
    expect(withinTolerance(0, 100, 0)).toBe(true);
    expect(withinTolerance(1, 100, 0)).toBe(false);
    expect(withinTolerance(30, 1000, 5)).toBe(true);
    expect(withinTolerance(50, 1000, 5)).toBe(true);
    expect(withinTolerance(51, 1000, 5)).toBe(false);
    expect(withinTolerance(30, 1000, 1)).toBe(false);
    expect(fanOutSummary('enrich', { total: 1000, succeeded: 970, failed: 30 }, 5)).toBe(
      '1000 items of enrich: 970 succeeded, 30 failed (within the 5% tolerated)',
    );
  });

  it('ends a task DEGRADED when a fan-out step succeeded with failed items, naming them', () => {
    // Prepare
    const plan: Plan = {
      source: 'explicit',
      steps: [
        normalizeStep({ id: 'rows', agent: 'data' }),
        normalizeStep({ id: 'enrich', agent: 'echo', forEach: { items: 'steps.rows.output.rows' } }),
      ],
    };
    const at = '2026-01-01T00:00:00.000Z';
    const results = new Map([
      ['rows', { status: 'SUCCEEDED' as const, summary: 'rows' }],
      [
        'enrich',
        {
          status: 'SUCCEEDED' as const,
          summary: '3 items',
          items: { total: 3, succeeded: 1, failed: 2, failedIndexes: [0, 2] },
          at,
        },
      ],
    ]);
    // Act
    const outcome = decideOutcome(plan, results, {});
    // Assess
    expect(outcome.status).toBe('DEGRADED');
    expect(outcome.missing).toEqual(['enrich[0]', 'enrich[2]']);
    expect(outcome.result.steps.enrich?.items).toEqual({ total: 3, succeeded: 1, failed: 2 });
    expect(isFinalSuccess({ status: 'SUCCEEDED', items: { failed: 2 } })).toBe(false);
    expect(isFinalSuccess({ status: 'SUCCEEDED', items: { failed: 0 } })).toBe(true);
    expect(isFinalSuccess({ status: 'SUCCEEDED' })).toBe(true);
  });
});
