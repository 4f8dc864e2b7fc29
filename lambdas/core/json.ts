/**
 * The one check of user JSON (request bodies, agent outputs) against what Baton stores and
 * passes on: plain JSON data only (no functions, class instances, non-finite numbers, cycles),
 * at most LIMITS.maxJsonDepth levels of nesting, object keys of at most LIMITS.maxJsonKeyChars
 * characters, and no key `__proto__` (JavaScript objects, zod included, cannot hold it as a
 * plain key: it would silently vanish or replace the object's prototype). Pure, iterative over
 * siblings and bounded in depth, so hostile input cannot exhaust the stack.
 */
import { LIMITS } from './schemas.js';

export interface JsonProblem {
  /** Where, as `a.b[2].c` from the checked value ('' for the value itself). */
  path: string;
  message: string;
}

export interface JsonLimits {
  maxDepth?: number;
  maxKeyChars?: number;
}

/** The first place where `value` is not plain JSON data within the limits, if any. */
export function jsonProblem(value: unknown, limits: JsonLimits = {}): JsonProblem | undefined {
  const maxDepth = limits.maxDepth ?? LIMITS.maxJsonDepth;
  const maxKeyChars = limits.maxKeyChars ?? LIMITS.maxJsonKeyChars;
  const seen = new Set<object>();
  const walk = (v: unknown, path: string, depth: number): JsonProblem | undefined => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
    if (typeof v === 'number')
      return Number.isFinite(v) ? undefined : { path, message: `${v} is not a JSON number` };
    if (typeof v === 'undefined') return undefined; // an absent field; the schema decides where it may be
    if (typeof v !== 'object') return { path, message: `a ${typeof v} is not JSON data` };
    if (seen.has(v)) return { path, message: 'refers back to itself (circular)' };
    if (depth >= maxDepth)
      return { path, message: `is nested deeper than ${maxDepth} levels (the limit of JSON Baton stores)` };
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
      return { path, message: `a ${proto?.constructor?.name ?? 'class'} instance is not JSON data` };
    }
    seen.add(v);
    const entries: [string, unknown][] = Array.isArray(v)
      ? v.map((item, i) => [`${path}[${i}]`, item])
      : Object.keys(v).map((k) => [path ? `${path}.${k}` : k, (v as Record<string, unknown>)[k]]);
    if (!Array.isArray(v)) {
      for (const k of Object.keys(v)) {
        const at = path ? `${path}.${k.slice(0, 40)}` : k.slice(0, 40);
        if (k === '__proto__') return { path: at, message: 'the key "__proto__" is reserved' };
        if (k.length > maxKeyChars)
          return { path: `${at}…`, message: `a key is longer than ${maxKeyChars} characters` };
      }
    }
    for (const [at, item] of entries) {
      if (Array.isArray(v) && item === undefined) return { path: at, message: 'undefined is not JSON data' };
      const found = walk(item, at, depth + 1);
      if (found) return found;
    }
    seen.delete(v);
    return undefined;
  };
  return walk(value, '', 0);
}
