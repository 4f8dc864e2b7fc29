/**
 * How local mode shows the functions' log lines on a terminal. The functions write the same JSON
 * lines as in Lambda (Powertools Logger, EMF metrics); when the runtime's stdout is a TTY, each
 * line is shown as `time LEVEL function message key=value …` (EMF documents as `metric …`);
 * anything else (a pipe, a file, a test) gets the JSON lines unchanged.
 */

const COLORS: Record<string, string> = {
  DEBUG: '\x1b[90m',
  INFO: '\x1b[36m',
  WARN: '\x1b[33m',
  ERROR: '\x1b[31m',
  CRITICAL: '\x1b[31m',
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** Keys every Powertools line has, shown in the line's head or left out. */
const HEAD_KEYS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'sampling_rate',
  'function_name',
  'function_arn',
  'function_memory_size',
  'function_request_id',
  'cold_start',
  'xray_trace_id',
]);
/** Shown first, in this order. */
const SCOPE_KEYS = ['taskId', 'run', 'stepId', 'attempt', 'traceId'];

function value(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** One line as a person reads it; `fn` is the function's logical id. */
export function prettyLogLine(line: string, fn: string, color = true): string {
  let doc: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return line;
    doc = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const paint = (code: string, text: string) => (color ? `${code}${text}${RESET}` : text);
  const aws = doc._aws as
    | { CloudWatchMetrics?: { Metrics?: { Name: string; Unit?: string }[] }[] }
    | undefined;
  if (aws?.CloudWatchMetrics) {
    const metrics = aws.CloudWatchMetrics.flatMap((m) => m.Metrics ?? []);
    const names = new Set(metrics.map((m) => m.Name));
    const dims = Object.entries(doc)
      .filter(([k]) => k !== '_aws' && !names.has(k))
      .map(([k, v]) => `${k}=${value(v)}`);
    const values = metrics.map((m) => `${m.Name}=${value(doc[m.Name])}${m.Unit ? ` ${m.Unit}` : ''}`);
    return `${paint(DIM, 'metric')} ${fn} ${values.join(' ')}${dims.length ? ` ${paint(DIM, dims.join(' '))}` : ''}`;
  }
  if (typeof doc.level !== 'string' || typeof doc.message !== 'string') return line;
  const time = typeof doc.timestamp === 'string' ? doc.timestamp.slice(11, 23) : '';
  const level = doc.level.toUpperCase();
  const keys = [
    ...SCOPE_KEYS.filter((k) => k in doc),
    ...Object.keys(doc).filter((k) => !HEAD_KEYS.has(k) && !SCOPE_KEYS.includes(k)),
  ];
  const rest = keys.map((k) => `${k}=${value(doc[k])}`).join(' ');
  return `${paint(DIM, time)} ${paint(COLORS[level] ?? '', level.padEnd(5))} ${fn} ${doc.message}${rest ? ` ${paint(DIM, rest)}` : ''}`;
}
