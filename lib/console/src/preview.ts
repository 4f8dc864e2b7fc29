/** Artifact previews: which kind of preview a content type gets, and CSV parsed into a table. */

export type PreviewKind = 'markdown' | 'json' | 'csv' | 'text' | 'none';

/** Previews are for text up to this size; larger artifacts are downloaded. */
export const MAX_PREVIEW_BYTES = 1024 * 1024;

export function previewKind(contentType: string, name = ''): PreviewKind {
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  const ext = name.toLowerCase().split('.').pop() ?? '';
  if (type === 'text/markdown' || type === 'text/x-markdown' || ext === 'md') return 'markdown';
  if (type === 'application/json' || type.endsWith('+json') || ext === 'json') return 'json';
  if (type === 'text/csv' || ext === 'csv') return 'csv';
  if (
    type.startsWith('text/') ||
    type === 'application/xml' ||
    type === 'application/jsonl' ||
    ['txt', 'log', 'jsonl'].includes(ext)
  )
    return 'text';
  return 'none';
}

/**
 * RFC 4180 CSV: quoted fields with "" escapes, commas and line breaks inside quotes, CRLF or LF.
 * At most `maxRows` rows are returned; `truncated` says whether there were more.
 */
export function parseCsv(text: string, maxRows = 500): { rows: string[][]; truncated: boolean } {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const endRow = () => {
    row.push(field);
    field = '';
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
  };
  while (i < body.length) {
    const c = body[i] as string;
    if (quoted) {
      if (c === '"') {
        if (body[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
      i += 1;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      endRow();
      if (c === '\r' && body[i + 1] === '\n') i += 1;
      if (rows.length > maxRows) return { rows: rows.slice(0, maxRows), truncated: true };
    } else field += c;
    i += 1;
  }
  if (field !== '' || row.length > 0) endRow();
  return { rows: rows.slice(0, maxRows), truncated: rows.length > maxRows };
}

/** JSON text pretty-printed, or the text as it is when it is not JSON. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** 1536 -> "1.5 KiB" */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
