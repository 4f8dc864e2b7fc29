import { describe, expect, it } from 'vitest';
import { createDbTool, tableName } from '../../../lambdas/tools/db.js';
import { ReadOnlyViolationError, ToolInputError } from '../../../lambdas/tools/errors.js';
import type { Dataset, ToolContext } from '../../../lambdas/tools/types.js';

const salesCsv = [
  'region,product,units,price,zip',
  'north,apple,10,1.5,01234',
  'south,apple,4,1.5,02000',
  'north,pear,6,2.25,01234',
  'south,pear,,2.25,02000',
  'east,plum,3,4,10001',
].join('\n');

const sales: Dataset = { name: 'sales.csv', contentType: 'text/csv', body: salesCsv };
const ctxWith = (datasets: Dataset[], artifacts: ToolContext['artifacts'] = []): ToolContext => ({
  taskId: 't-1',
  stepId: 'analyze',
  datasets,
  artifacts,
});

describe('db tool', () => {
  const db = createDbTool();
  const query = (sql: string, ctx: ToolContext, maxRows?: number) =>
    db.handler(db.inputSchema.parse({ sql, maxRows }), ctx);

  it('aggregates a CSV dataset (SUM / AVG / GROUP BY) like a hand computation', async () => {
    // Prepare: by hand, revenue north = 10*1.5 + 6*2.25 = 28.5; south = 4*1.5 + NULL = 6; east = 3*4 = 12
    // avg units north = (10+6)/2 = 8; south = 4/1 (NULL ignored) = 4; east = 3
    const sql = `SELECT region, SUM(units * price) AS revenue, AVG(units) AS avg_units, COUNT(*) AS n
                 FROM sales GROUP BY region ORDER BY revenue DESC`;
    // Act
    const out = await query(sql, ctxWith([sales]));
    // Assess
    expect(out.columns).toEqual(['region', 'revenue', 'avg_units', 'n']);
    expect(out.rows).toEqual([
      ['north', 28.5, 8, 2],
      ['east', 12, 3, 1],
      ['south', 6, 4, 2],
    ]);
    expect(out).toMatchObject({ rowCount: 3, truncated: false });
  });

  it('infers column types from CSV values (leading-zero codes stay text)', async () => {
    // Act
    const out = await query(
      "SELECT typeof(units), typeof(price), typeof(zip), zip FROM sales WHERE product = 'apple' ORDER BY units DESC",
      ctxWith([sales]),
    );
    // Assess
    expect(out.rows).toEqual([
      ['integer', 'real', 'text', '01234'],
      ['integer', 'real', 'text', '02000'],
    ]);
  });

  it('queries a JSON dataset (array of objects) and joins it with a CSV artifact', async () => {
    // Prepare
    const products: Dataset = {
      name: 'products',
      contentType: 'application/json',
      body: JSON.stringify([
        { product: 'apple', organic: true, tags: ['red'] },
        { product: 'pear', organic: false },
        { product: 'plum', organic: true, tags: [] },
      ]),
    };
    const artifact = {
      name: 'sales.csv',
      contentType: 'text/csv; charset=utf-8',
      body: new TextEncoder().encode(salesCsv),
    };
    // Act
    const out = await query(
      `SELECT p.product, SUM(s.units) AS units, json_array_length(p.tags) AS tags
       FROM products p JOIN sales s USING (product) WHERE p.organic = 1 GROUP BY p.product ORDER BY p.product`,
      ctxWith([products], [artifact]),
    );
    // Assess
    expect(out.rows).toEqual([
      ['apple', 14, 1],
      ['plum', 3, 0],
    ]);
  });

  it.each([
    ["INSERT INTO sales VALUES ('west', 'fig', 1, 1, '1')"],
    ['DROP TABLE sales'],
    ['UPDATE sales SET units = 0'],
    ['PRAGMA query_only = 0'],
    ["ATTACH DATABASE '/tmp/x.db' AS x"],
    ['/* hidden */ delete from sales'],
  ])('refuses a write: %s', async (sql) => {
    // Act
    const call = query(sql, ctxWith([sales]));
    // Assess
    await expect(call).rejects.toBeInstanceOf(ReadOnlyViolationError);
    await expect(call).rejects.toThrow(/only SELECT/);
  });

  it('refuses a write hidden behind WITH, via SQLite query_only', async () => {
    // Act
    const call = query('WITH doomed AS (SELECT 1) DELETE FROM sales', ctxWith([sales]));
    // Assess
    await expect(call).rejects.toBeInstanceOf(ReadOnlyViolationError);
    await expect(call).rejects.toThrow(/readonly|read-only/);
  });

  it('runs exactly one statement', async () => {
    // Act
    const call = query('SELECT 1; DROP TABLE sales', ctxWith([sales]));
    const trailing = await query('SELECT 1 AS one; -- done', ctxWith([sales]));
    // Assess
    await expect(call).rejects.toThrow(/exactly one statement/);
    expect(trailing.rows).toEqual([[1]]);
  });

  it('caps rows and says the result was truncated', async () => {
    // Act
    const out = await query(
      'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n',
      ctxWith([]),
      5,
    );
    // Assess
    expect(out.rows).toEqual([[1], [2], [3], [4], [5]]);
    expect(out).toMatchObject({ rowCount: 5, truncated: true });
  });

  it('names the available tables when the SQL refers to an unknown one', async () => {
    // Act
    const call = query('SELECT * FROM revenue', ctxWith([sales]));
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolInputError);
    await expect(call).rejects.toThrow(
      /no such table: revenue.*sales\(region TEXT, product TEXT, units INTEGER/,
    );
  });

  it('derives table names from dataset names', () => {
    // Assess
    expect(tableName('sales-2024.csv')).toBe('sales_2024');
    expect(tableName('2024.json')).toBe('t_2024');
  });
});
