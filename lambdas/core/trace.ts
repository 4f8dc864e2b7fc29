/**
 * X-Ray trace ids and headers (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=…;Sampled=1`).
 * A task has ONE trace id, the API request's: carried on the intake message (AWSTraceHeader),
 * on StartExecution (traceHeader) and in the execution input, so every line and span of the
 * task, from the API to the agents' model calls, names it.
 */
import { newTraceId } from './ids.js';

const TRACE_ID = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;

export function isTraceId(value: unknown): value is string {
  return typeof value === 'string' && TRACE_ID.test(value);
}

/** The fields of a trace header; `undefined` for a header with no valid Root. */
export function parseTraceHeader(header: string | undefined): Record<string, string> | undefined {
  if (!header) return undefined;
  const fields: Record<string, string> = {};
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key) fields[key] = rest.join('=');
  }
  return isTraceId(fields.Root) ? fields : undefined;
}

/** The trace id of a trace header, when it has a valid one. */
export function traceIdOf(header: string | undefined): string | undefined {
  return parseTraceHeader(header)?.Root;
}

/**
 * The header that continues trace `traceId`: `current` (the caller's own header) when it is of
 * that trace (keeps its Parent and sampling decision), else a header naming only the Root.
 */
export function traceHeaderFor(traceId: string, current?: string): string {
  const fields = parseTraceHeader(current);
  if (fields?.Root === traceId) return current as string;
  return `Root=${traceId}`;
}

/** The trace of a request: the first valid of the given headers, else a new trace id. */
export function requestTraceId(...headers: (string | undefined)[]): string {
  for (const h of headers) {
    const id = traceIdOf(h);
    if (id) return id;
  }
  return newTraceId();
}
