/**
 * Reading a fan-out step's items out of a document (CSV, JSON Lines, a JSON array): apart from
 * lambdas/core/fanout.ts so that only PrepareItems carries csv-parse (the step runner and the
 * gate import fanout.ts).
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { checked, ItemsUnavailableError, itemsFormat } from './fanout.js';
import type { Json } from './schemas.js';

/**
 * The items of a document: CSV rows as objects (the header row names the fields; values stay
 * strings), JSON Lines (one value per line), or a JSON array. `label` names it in errors.
 */
export function itemsFromText(text: string, contentType: string, label: string, name = ''): Json[] {
  const format = itemsFormat(contentType, name);
  if (format === 'csv') {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(text, { bom: true, columns: true, skip_empty_lines: true, relax_column_count: true });
    } catch (err) {
      throw new ItemsUnavailableError(`${label} is not valid CSV: ${(err as Error).message}`, { cause: err });
    }
    return checked(rows, label);
  }
  if (format === 'jsonl') {
    const items: Json[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        items.push(JSON.parse(line) as Json);
      } catch (err) {
        throw new ItemsUnavailableError(`${label} line ${i + 1} is not JSON`, { cause: err });
      }
    });
    return checked(items, label);
  }
  if (format === undefined)
    throw new ItemsUnavailableError(
      `${label} is ${contentType || 'of no content type'}: items are read from CSV, JSON Lines or a JSON array`,
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ItemsUnavailableError(`${label} is not JSON`, { cause: err });
  }
  if (!Array.isArray(value)) throw new ItemsUnavailableError(`${label} is not a JSON array`);
  return checked(value as Json[], label);
}
