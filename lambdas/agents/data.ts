/**
 * Data agent: runs SQL or statistics over tabular data and writes the result as a CSV table
 * (`result.csv`). Datasets are the task's `inputs.datasets: [{ name, contentType: "text/csv" |
 * "application/json", body }]` and the upstream steps' CSV/JSON artifacts (tables named after
 * them: `sales.csv` → `sales`, upstream `data-1`'s `result.csv` → `data_1_result`).
 *
 * Modes (offline): `sql` (one read-only SELECT), a spec `{ dataset?, groupBy?, aggregate }`
 * turned into SQL (columns checked first), or — neither given — a profile of every column (count,
 * numeric count, min, max, mean, sum). All queries run through the `db` tool (SQLite, read-only).
 * With a model and no sql/spec: a bounded tool-use loop in which the model writes the queries.
 */
import * as z from 'zod';
import { AgentFailedError, NonRetryableError } from '../core/errors.js';
import type { AgentContext, AgentInput } from '../core/schemas.js';
import { tableName } from '../tools/datasets.js';
import type { DbOutput } from '../tools/db.js';
import { BaseInput, DEFAULT_MAX_TURNS, liveModel, toCsv } from './common.js';
import { upstreamFileName } from './context.js';
import { defineAgent } from './define.js';
import { runToolLoop } from './loop.js';

const ColumnName = z.string().trim().min(1).max(200);
export const Aggregate = z
  .object({
    fn: z.enum(['count', 'sum', 'avg', 'min', 'max']),
    column: ColumnName.optional(),
    as: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'use letters, digits and "_", starting with a letter')
      .optional(),
  })
  .strict()
  .refine((a) => a.fn === 'count' || a.column !== undefined, {
    message: 'give the column to aggregate (only "count" may leave it out)',
    path: ['column'],
  });
export type Aggregate = z.infer<typeof Aggregate>;

export const DataInput = BaseInput.extend({
  /** One read-only SQLite SELECT over the datasets (tables named after them). */
  sql: z.string().trim().min(1).max(20_000).optional(),
  /** The dataset a groupBy/aggregate spec (or a profile) runs on; default: the only one. */
  dataset: z.string().trim().min(1).max(200).optional(),
  groupBy: z.union([ColumnName, z.array(ColumnName).min(1).max(10)]).optional(),
  aggregate: z.union([Aggregate, z.array(Aggregate).min(1).max(20)]).optional(),
  /** Rows kept at most (default 1000). */
  limit: z.number().int().min(1).max(10_000).optional(),
  /** What to find out, for the model (LLM path). */
  question: z.string().max(4000).optional(),
})
  .strict()
  .refine((v) => !(v.sql && (v.groupBy !== undefined || v.aggregate !== undefined)), {
    message: 'give either sql or a groupBy/aggregate spec, not both',
    path: ['sql'],
  });
export type DataInput = z.infer<typeof DataInput>;

const Cell = z.union([z.string(), z.number(), z.null()]);
export const DataOutput = z.object({
  mode: z.enum(['sql', 'aggregate', 'profile', 'model']),
  dataset: z.string().optional(),
  sql: z.string(),
  columns: z.array(z.string()),
  rowCount: z.number().int(),
  /** The first rows (all of them in the CSV artifact). */
  rows: z.array(z.array(Cell)),
  truncated: z.boolean(),
});
export type DataOutput = z.infer<typeof DataOutput>;

export const DATA_SYSTEM_PROMPT = [
  'You are the data agent of Baton, a multi-agent platform. You answer questions about tabular datasets with',
  'the "db" tool: one read-only SQLite SELECT per call, tables named after the datasets. Look at the columns',
  'first, then compute the answer in SQL (never by hand). Your last successful query must return the result',
  'table; then reply with two or three sentences that state the answer and how it was computed.',
].join(' ');

const DatasetList = z
  .array(
    z
      .object({
        name: z.string().min(1).max(200),
        contentType: z.enum(['text/csv', 'application/json']),
        body: z.string(),
      })
      .strict(),
  )
  .max(50);

interface TableInfo {
  /** Dataset name as given (or `<step>/<artifact>`). */
  name: string;
  table: string;
}

const MAX_OUTPUT_ROWS = 50;
const MAX_OUTPUT_BYTES = 16 * 1024;

export function quoteId(id: string): string {
  return `"${id.replace(/"/g, '""')}"`;
}

function quoteText(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The datasets of the step: task datasets (validated) and upstream CSV/JSON artifacts. */
export function stepTables(input: AgentInput): TableInfo[] {
  const given = input.inputs.datasets;
  const tables: TableInfo[] = [];
  if (given !== undefined) {
    const parsed = DatasetList.safeParse(given);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new NonRetryableError(
        `data: inputs.datasets is not valid: ${issue ? `inputs.datasets${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}` : 'unknown problem'}. Give [{ name, contentType: "text/csv" | "application/json", body }].`,
      );
    }
    for (const d of parsed.data) tables.push({ name: d.name, table: tableName(d.name) });
  }
  for (const up of input.upstream) {
    for (const a of up.artifacts) {
      const type = a.contentType.split(';')[0]?.trim().toLowerCase();
      if (type !== 'text/csv' && type !== 'application/json') continue;
      const name = upstreamFileName(up.stepId, a.name);
      tables.push({ name, table: tableName(name) });
    }
  }
  return tables;
}

function aggregates(p: DataInput): Aggregate[] {
  if (p.aggregate === undefined) return [{ fn: 'count' }];
  return Array.isArray(p.aggregate) ? p.aggregate : [p.aggregate];
}

function groups(p: DataInput): string[] {
  if (p.groupBy === undefined) return [];
  return Array.isArray(p.groupBy) ? p.groupBy : [p.groupBy];
}

/** SQL of a groupBy/aggregate spec; column names must already be the table's own. */
export function aggregateSql(table: string, groupBy: string[], aggs: Aggregate[]): string {
  const select = [
    ...groupBy.map(quoteId),
    ...aggs.map((a) => {
      const alias = a.as ?? (a.column ? `${a.fn}_${a.column}`.replace(/[^A-Za-z0-9_]/g, '_') : a.fn);
      const arg = a.column ? quoteId(a.column) : '*';
      return `${a.fn.toUpperCase()}(${arg}) AS ${quoteId(alias)}`;
    }),
  ];
  const by = groupBy.map(quoteId).join(', ');
  return `SELECT ${select.join(', ')} FROM ${quoteId(table)}${by ? ` GROUP BY ${by} ORDER BY ${by}` : ''}`;
}

/** SQL of a profile: one row per column with count, numeric count, min, max, mean and sum. */
export function profileSql(table: string, columns: string[]): string {
  const numeric = (c: string) => `typeof(${quoteId(c)}) IN ('integer', 'real')`;
  return columns
    .map(
      (c) =>
        `SELECT ${quoteText(c)} AS "column", COUNT(*) AS "rows", COUNT(${quoteId(c)}) AS "count", ` +
        `SUM(${numeric(c)}) AS "numeric", MIN(${quoteId(c)}) AS "min", MAX(${quoteId(c)}) AS "max", ` +
        `AVG(CASE WHEN ${numeric(c)} THEN ${quoteId(c)} END) AS "mean", ` +
        `SUM(CASE WHEN ${numeric(c)} THEN ${quoteId(c)} END) AS "sum" FROM ${quoteId(table)}`,
    )
    .join(' UNION ALL ');
}

async function db(ctx: AgentContext, sql: string, maxRows?: number): Promise<DbOutput> {
  if (!ctx.tools)
    throw new NonRetryableError('data: no tools are available (run it through the Baton harness)');
  return (await ctx.tools.call('db', { sql, ...(maxRows ? { maxRows } : {}) })) as DbOutput;
}

async function columnsOf(ctx: AgentContext, t: TableInfo): Promise<string[]> {
  return (await db(ctx, `SELECT * FROM ${quoteId(t.table)} LIMIT 0`)).columns;
}

function pickTable(tables: TableInfo[], wanted: string | undefined): TableInfo {
  if (wanted) {
    const key = tableName(wanted).toLowerCase();
    const found = tables.find((t) => t.name === wanted || t.table.toLowerCase() === key);
    if (!found) {
      throw new NonRetryableError(
        `data input is not valid: input.dataset: no dataset "${wanted}" (datasets: ${tables.map((t) => `${t.name} as table ${t.table}`).join(', ')})`,
      );
    }
    return found;
  }
  if (tables.length > 1) {
    throw new NonRetryableError(
      `data input is not valid: input.dataset: there are ${tables.length} datasets (${tables.map((t) => t.name).join(', ')}); name the one to aggregate`,
    );
  }
  return tables[0] as TableInfo;
}

function resolveColumn(columns: string[], wanted: string, field: string, t: TableInfo): string {
  const found =
    columns.find((c) => c === wanted) ?? columns.find((c) => c.toLowerCase() === wanted.toLowerCase());
  if (!found) {
    throw new NonRetryableError(
      `data input is not valid: ${field}: no column "${wanted}" in ${t.name} (columns: ${columns.join(', ')})`,
    );
  }
  return found;
}

function outputRows(res: DbOutput): DbOutput['rows'] {
  const rows = res.rows.slice(0, MAX_OUTPUT_ROWS);
  while (rows.length > 0 && Buffer.byteLength(JSON.stringify(rows)) > MAX_OUTPUT_BYTES) rows.pop();
  return rows;
}

function result(
  mode: DataOutput['mode'],
  sql: string,
  res: DbOutput,
  dataset: string | undefined,
  note: string,
) {
  const rows = outputRows(res);
  const output: DataOutput = {
    mode,
    ...(dataset ? { dataset } : {}),
    sql,
    columns: res.columns,
    rowCount: res.rowCount,
    rows,
    truncated: res.truncated || rows.length < res.rows.length,
  };
  return {
    summary: `${res.rowCount} row(s) × ${res.columns.length} column(s) (${note})${res.truncated ? '; more rows matched than were kept' : ''}`,
    output,
    artifacts: [{ name: 'result.csv', contentType: 'text/csv', body: toCsv(res.columns, res.rows) }],
  };
}

async function withModel(ctx: AgentContext, input: AgentInput, p: DataInput, tables: TableInfo[]) {
  const model = liveModel(ctx);
  if (!model) throw new AgentFailedError('unreachable: no model');
  const described = await Promise.all(
    tables.map(async (t) => `${t.table} (dataset ${t.name}): ${(await columnsOf(ctx, t)).join(', ')}`),
  );
  const loop = await runToolLoop({
    model,
    tools: ctx.tools,
    only: ['db'],
    system: DATA_SYSTEM_PROMPT,
    prompt: [
      `Question: ${p.question ?? input.goal}`,
      'Tables and their columns:',
      ...described.map((d) => `- ${d}`),
    ].join('\n'),
    maxTurns: p.maxTurns ?? DEFAULT_MAX_TURNS,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const last = loop.calls.filter((c) => c.name === 'db' && c.ok).at(-1);
  if (!last) throw new AgentFailedError(`data: ${model.id} ran no successful query in ${loop.turns} turns`);
  const sql = String((last.args as { sql?: unknown }).sql ?? '');
  const out = result('model', sql, last.result as DbOutput, undefined, `query by ${model.id}`);
  return { ...out, summary: `${loop.text.trim().slice(0, 1500) || out.summary}` };
}

export const data = defineAgent({
  name: 'data',
  description: 'Runs SQL or an aggregate spec over CSV/JSON datasets and writes a CSV table',
  input: DataInput,
  output: DataOutput,
  defaultTools: { db: {} },
  systemPrompt: DATA_SYSTEM_PROMPT,
  handler: async (input, ctx, p) => {
    const tables = stepTables(input);
    if (tables.length === 0) {
      throw new NonRetryableError(
        'data needs a dataset: give inputs.datasets [{ name, contentType: "text/csv" | "application/json", body }] or depend on a step that writes a CSV/JSON artifact',
      );
    }
    if (!ctx.tools?.has('db')) {
      throw new NonRetryableError(
        'data needs the "db" tool, which is not allowed for this agent: add "db" to its tools.allow',
      );
    }
    if (p.sql) return result('sql', p.sql, await db(ctx, p.sql, p.limit), undefined, 'SQL query');

    const spec = p.groupBy !== undefined || p.aggregate !== undefined;
    if (!spec && liveModel(ctx)) return withModel(ctx, input, p, tables);

    if (spec) {
      const t = pickTable(tables, p.dataset);
      const columns = await columnsOf(ctx, t);
      const by = groups(p).map((g, i) =>
        resolveColumn(columns, g, `input.groupBy${Array.isArray(p.groupBy) ? `[${i}]` : ''}`, t),
      );
      const aggs = aggregates(p).map((a, i) =>
        a.column
          ? {
              ...a,
              column: resolveColumn(
                columns,
                a.column,
                `input.aggregate${Array.isArray(p.aggregate) ? `[${i}]` : ''}.column`,
                t,
              ),
            }
          : a,
      );
      const sql = aggregateSql(t.table, by, aggs);
      const described = aggs.map((a) => `${a.fn}(${a.column ?? '*'})`).join(', ');
      return result(
        'aggregate',
        sql,
        await db(ctx, sql, p.limit),
        t.name,
        `${described}${by.length ? ` by ${by.join(', ')}` : ''} over ${t.name}`,
      );
    }

    // Profile every dataset (or the one named).
    const targets = p.dataset ? [pickTable(tables, p.dataset)] : tables;
    const columns = ['dataset', 'column', 'rows', 'count', 'numeric', 'min', 'max', 'mean', 'sum'];
    const rows: DbOutput['rows'] = [];
    const statements: string[] = [];
    for (const t of targets) {
      const cols = await columnsOf(ctx, t);
      if (cols.length === 0) continue;
      const sql = profileSql(t.table, cols);
      statements.push(sql);
      const res = await db(ctx, sql);
      for (const r of res.rows) rows.push([t.name, ...r]);
    }
    const profile: DbOutput = { columns, rows, rowCount: rows.length, truncated: false };
    return result(
      'profile',
      statements.join(';\n'),
      profile,
      p.dataset,
      `profile of ${targets.map((t) => t.name).join(', ')}`,
    );
  },
});
