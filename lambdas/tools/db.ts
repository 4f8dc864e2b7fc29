/**
 * The `db` tool: one read-only SQL statement over the step's datasets, with SQLite (sql.js, WASM).
 *
 * Each call opens a fresh in-memory database, loads each dataset the statement mentions into a
 * table named after it (CSV column types inferred: INTEGER, REAL or TEXT; JSON = array of
 * objects), switches the database to `PRAGMA query_only`, and runs the statement. Writes are
 * refused three times over: only SELECT / WITH / VALUES statements are accepted, SQLite itself
 * rejects any write under query_only, and nothing outlives the call anyway.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parse as parseCsv } from 'csv-parse/sync';
import initSqlJs, { type Database, type SqlJsStatic, type SqlValue } from 'sql.js';
import * as z from 'zod';
import { tableName } from './datasets.js';
import { defineTool, type ToolImplementation } from './define.js';
import { ReadOnlyViolationError, ToolInputError } from './errors.js';
import type { Dataset, Tool, ToolContext } from './types.js';

/** The db tool's settings (`tools.db` in the Baton config). */
export const DbToolConfig = z
  .object({
    /** Rows returned at most (default 1000); a call may ask for fewer. */
    maxRows: z.number().int().positive().optional(),
    /** Path of `sql-wasm.wasm` when the sql.js package is not resolvable (e.g. in a bundle); relative to the config file. */
    wasmPath: z.string().min(1).optional(),
  })
  .strict();
export type DbToolConfig = z.infer<typeof DbToolConfig>;

/** What a config file cannot hold. */
export interface DbToolOptions {
  /** Datasets available to every call, besides the step's own (ctx.datasets, CSV/JSON artifacts). */
  datasets?: Dataset[];
}

export const DB_DEFAULTS = { maxRows: 1000 } as const;

export const DbInput = z
  .object({
    sql: z
      .string()
      .trim()
      .min(1, 'give one SELECT statement')
      .max(20_000)
      .describe('One SQLite SELECT (or WITH ... SELECT) statement'),
    maxRows: z.number().int().positive().optional().describe('Return at most this many rows'),
  })
  .strict();
export type DbInput = z.infer<typeof DbInput>;

export type DbValue = number | string | null;

export interface DbOutput {
  columns: string[];
  /** One array per row, values in `columns` order (BLOBs as base64). */
  rows: DbValue[][];
  rowCount: number;
  /** More rows matched than were returned. */
  truncated: boolean;
}

type ColumnType = 'INTEGER' | 'REAL' | 'TEXT';
interface Table {
  name: string;
  columns: { name: string; type: ColumnType }[];
  rows: (SqlValue | undefined)[][];
}

/**
 * Where sql.js's wasm is: the configured `wasmPath`; else beside this module — in a Lambda
 * bundle, where the stack copies it (lib/aws/functions.ts SQL_WASM); else the sql.js package
 * (running from the sources).
 */
export function locateSqlWasm(file: string, wasmPath?: string): string {
  if (wasmPath) return wasmPath;
  const beside = fileURLToPath(new URL(file, import.meta.url));
  if (existsSync(beside)) return beside;
  return createRequire(import.meta.url).resolve(`sql.js/dist/${file}`);
}

let sqlJs: Promise<SqlJsStatic> | undefined;
function loadSqlJs(wasmPath?: string): Promise<SqlJsStatic> {
  if (!sqlJs) {
    sqlJs = initSqlJs({
      locateFile: (file: string) => locateSqlWasm(file, wasmPath),
    }).catch((err: unknown) => {
      sqlJs = undefined;
      throw err;
    });
  }
  return sqlJs;
}

/* ------------------------------------------------------------------ datasets → tables */

export { tableName } from './datasets.js';

const INTEGER_RE = /^[-+]?(0|[1-9]\d*)$/;
const REAL_RE = /^[-+]?((0|[1-9]\d*)(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function inferCsvType(values: string[]): ColumnType {
  const present = values.filter((v) => v !== '');
  if (present.length === 0) return 'TEXT';
  if (present.every((v) => INTEGER_RE.test(v) && Number.isSafeInteger(Number(v)))) return 'INTEGER';
  if (present.every((v) => REAL_RE.test(v) && Number.isFinite(Number(v)))) return 'REAL';
  return 'TEXT';
}

function uniqueNames(raw: string[]): string[] {
  const seen = new Map<string, number>();
  return raw.map((name, i) => {
    const base = name.trim() || `column_${i + 1}`;
    const n = (seen.get(base.toLowerCase()) ?? 0) + 1;
    seen.set(base.toLowerCase(), n);
    return n === 1 ? base : `${base}_${n}`;
  });
}

function csvTable(name: string, body: string): Table {
  const records = parseCsv(body, {
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
  }) as string[][];
  const [header = [], ...data] = records;
  const names = uniqueNames(header);
  const columns = names.map((col, i) => ({ name: col, type: inferCsvType(data.map((r) => r[i] ?? '')) }));
  const rows = data.map((r) =>
    columns.map((c, i) => {
      const v = r[i] ?? '';
      if (v === '') return null;
      return c.type === 'TEXT' ? v : Number(v);
    }),
  );
  return { name, columns, rows };
}

function jsonTable(name: string, body: string): Table {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (err) {
    throw new ToolInputError('db', [{ path: 'datasets', message: `dataset ${name} is not valid JSON` }], {
      cause: err,
    });
  }
  if (!Array.isArray(data) || !data.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
    throw new ToolInputError('db', [
      { path: 'datasets', message: `dataset ${name} must be a JSON array of objects` },
    ]);
  }
  const objects = data as Record<string, unknown>[];
  const names: string[] = [];
  for (const o of objects) for (const k of Object.keys(o)) if (!names.includes(k)) names.push(k);
  const columns = names.map((col) => {
    const present = objects.map((o) => o[col]).filter((v) => v !== null && v !== undefined);
    let type: ColumnType = 'TEXT';
    if (present.length && present.every((v) => typeof v === 'boolean' || Number.isSafeInteger(v)))
      type = 'INTEGER';
    else if (present.length && present.every((v) => typeof v === 'number' || typeof v === 'boolean'))
      type = 'REAL';
    return { name: col, type };
  });
  const rows = objects.map((o) =>
    names.map((col): SqlValue => {
      const v = o[col];
      if (v === null || v === undefined) return null;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'number' || typeof v === 'string') return v;
      return JSON.stringify(v); // nested values: usable with SQLite's json_* functions
    }),
  );
  return { name, columns, rows };
}

function toTable(d: Dataset): Table {
  const name = tableName(d.name);
  return d.contentType === 'text/csv' ? csvTable(name, d.body) : jsonTable(name, d.body);
}

/** The table of a dataset, or an empty one (same name) when the dataset does not parse. */
function tryTable(d: Dataset): Table {
  try {
    return toTable(d);
  } catch {
    return { name: tableName(d.name), columns: [], rows: [] };
  }
}

function quoteId(id: string): string {
  return `"${id.replace(/"/g, '""')}"`;
}

function loadTable(db: Database, table: Table): void {
  const cols = table.columns.map((c) => `${quoteId(c.name)} ${c.type}`).join(', ');
  db.run(`CREATE TABLE ${quoteId(table.name)} (${cols || '"_empty" TEXT'})`);
  if (table.columns.length === 0 || table.rows.length === 0) return;
  const insert = db.prepare(
    `INSERT INTO ${quoteId(table.name)} VALUES (${table.columns.map(() => '?').join(', ')})`,
  );
  try {
    db.run('BEGIN');
    for (const row of table.rows) insert.run(row.map((v) => v ?? null));
    db.run('COMMIT');
  } finally {
    insert.free();
  }
}

/** The datasets a call can see: the step's datasets, its CSV/JSON artifacts, then the configured ones. */
export function collectDatasets(ctx: ToolContext, configured: readonly Dataset[] = []): Dataset[] {
  const fromArtifacts: Dataset[] = (ctx.artifacts ?? []).flatMap((a) => {
    const type = a.contentType.split(';')[0]?.trim().toLowerCase();
    if (type !== 'text/csv' && type !== 'application/json') return [];
    const body = typeof a.body === 'string' ? a.body : Buffer.from(a.body).toString('utf8');
    return [{ name: a.name, contentType: type, body }];
  });
  const seen = new Set<string>();
  return [...(ctx.datasets ?? []), ...fromArtifacts, ...configured].filter((d) => {
    const key = tableName(d.name).toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/* ------------------------------------------------------------------ statement checks */

/** The SQL without leading comments, whitespace and parentheses. */
function stripLeading(sql: string): string {
  let s = sql;
  for (;;) {
    const next = s
      .replace(/^\s+/, '')
      .replace(/^--[^\n]*(\n|$)/, '')
      .replace(/^\/\*[\s\S]*?\*\//, '')
      .replace(/^\(/, '');
    if (next === s) return s;
    s = next;
  }
}

function isOnlyTrivia(sql: string): boolean {
  return (
    sql
      .replace(/--[^\n]*(\n|$)/g, '')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/[\s;]/g, '') === ''
  );
}

const READ_KEYWORDS = new Set(['SELECT', 'WITH', 'VALUES']);

function assertRead(sql: string): void {
  const keyword = /^[A-Za-z]+/.exec(stripLeading(sql))?.[0]?.toUpperCase() ?? '';
  if (!READ_KEYWORDS.has(keyword)) {
    throw new ReadOnlyViolationError(
      `The db tool runs read-only queries: only SELECT (or WITH ... SELECT) statements are allowed, got ${keyword || 'no statement'}.`,
    );
  }
}

function mentioned(sql: string, table: string): boolean {
  const escaped = table.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_])${escaped}($|[^A-Za-z0-9_])`, 'i').test(sql);
}

function describeTables(tables: Table[]): string {
  if (tables.length === 0) return 'no datasets are available';
  return `tables: ${tables.map((t) => `${t.name}(${t.columns.map((c) => `${c.name} ${c.type}`).join(', ')})`).join('; ')}`;
}

/* ------------------------------------------------------------------ the tool */

function dbImplementation(
  config: DbToolConfig,
  options: DbToolOptions,
): ToolImplementation<DbInput, DbOutput> {
  const maxRowsCap = config.maxRows ?? DB_DEFAULTS.maxRows;
  return {
    description:
      'Run one read-only SQL query (SQLite dialect: SELECT or WITH ... SELECT) over the datasets of the task. ' +
      'Each CSV or JSON dataset is a table named after it without extension (e.g. sales.csv → sales), with ' +
      `column types inferred (INTEGER, REAL, TEXT). Returns columns and up to ${maxRowsCap} rows.`,
    async handler(input, ctx) {
      assertRead(input.sql);
      const SQL = await loadSqlJs(config.wasmPath);
      const datasets = collectDatasets(ctx, options.datasets);
      const db = new SQL.Database();
      try {
        const tables: Table[] = [];
        for (const d of datasets) {
          const name = tableName(d.name);
          if (!mentioned(input.sql, name)) continue;
          const table = toTable(d);
          loadTable(db, table);
          tables.push(table);
        }
        db.run('PRAGMA query_only = 1');
        // For error messages only: every dataset's table and columns, loaded or not.
        const available = () =>
          describeTables(
            datasets.map((d) => tables.find((t) => t.name === tableName(d.name)) ?? tryTable(d)),
          );

        const statements = db.iterateStatements(input.sql);
        let first: ReturnType<typeof statements.next>;
        try {
          first = statements.next();
        } catch (err) {
          throw new ToolInputError(
            'db',
            [{ path: 'sql', message: `${(err as Error).message} (${available()})` }],
            {
              cause: err,
            },
          );
        }
        const stmt = first.value;
        if (first.done || !stmt)
          throw new ToolInputError('db', [{ path: 'sql', message: 'no statement found' }]);
        try {
          if (!isOnlyTrivia(statements.getRemainingSQL())) {
            throw new ToolInputError('db', [{ path: 'sql', message: 'give exactly one statement per call' }]);
          }
          const limit = Math.min(input.maxRows ?? maxRowsCap, maxRowsCap);
          const columns = stmt.getColumnNames();
          const rows: DbValue[][] = [];
          let truncated = false;
          try {
            while (stmt.step()) {
              if (rows.length >= limit) {
                truncated = true;
                break;
              }
              rows.push(
                stmt.get().map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)),
              );
            }
          } catch (err) {
            const message = (err as Error).message;
            if (/readonly|read-only|query_only/i.test(message)) {
              throw new ReadOnlyViolationError(
                `The db tool runs read-only queries; SQLite refused a write: ${message}`,
                {
                  cause: err,
                },
              );
            }
            throw new ToolInputError('db', [{ path: 'sql', message }], { cause: err });
          }
          return { columns, rows, rowCount: rows.length, truncated };
        } finally {
          stmt.free();
        }
      } finally {
        db.close();
      }
    },
  };
}

/** The `db` tool: one read-only SQLite query over the step's datasets. */
export const dbTool = defineTool({
  name: 'db',
  description: 'Run one read-only SQL query (SQLite) over the datasets of the task',
  config: DbToolConfig,
  input: DbInput,
  paths: (c, absolute) => (c.wasmPath ? { ...c, wasmPath: absolute(c.wasmPath) } : c),
  factory: dbImplementation,
});

export function createDbTool(config: DbToolConfig & DbToolOptions = {}): Tool<DbInput, DbOutput> {
  const { datasets, ...settings } = config;
  return dbTool.create(settings, datasets ? { datasets } : {});
}
