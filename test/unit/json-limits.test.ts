/** The one check of user JSON (lambdas/core/json.ts): plain data, bounded depth and keys, no `__proto__`. */
import { describe, expect, it } from 'vitest';
import { jsonProblem } from '../../lambdas/core/json.js';
import { LIMITS } from '../../lambdas/core/schemas.js';

const nested = (levels: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
};

describe('jsonProblem', () => {
  it('accepts plain JSON up to the depth limit, SDK-hostile key names included', () => {
    expect(jsonProblem(nested(LIMITS.maxJsonDepth))).toBeUndefined();
    expect(
      jsonProblem({ constructor: 'c', prototype: [], toString: { valueOf: 1 }, '': null }),
    ).toBeUndefined();
  });

  it('names where nesting passes the limit, without walking the rest (10^5 levels, no stack overflow)', () => {
    // Prepare: a body of the kind a 256 KiB request can carry
    const deep = JSON.parse(`{"inputs":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    // Act
    const found = jsonProblem(deep);
    // Assess
    expect(found?.message).toBe(
      `is nested deeper than ${LIMITS.maxJsonDepth} levels (the limit of JSON Baton stores)`,
    );
    expect(found?.path).toBe(`inputs${'[0]'.repeat(LIMITS.maxJsonDepth - 1)}`);
    expect(jsonProblem(nested(LIMITS.maxJsonDepth + 1))?.path).toBe(
      Array(LIMITS.maxJsonDepth).fill('a').join('.'),
    );
  });

  it('refuses a __proto__ key, an over-long key, and what is not JSON data', () => {
    expect(jsonProblem(JSON.parse('{"x":{"__proto__":{"admin":true}}}'))).toEqual({
      path: 'x.__proto__',
      message: 'the key "__proto__" is reserved',
    });
    expect(jsonProblem({ ['k'.repeat(LIMITS.maxJsonKeyChars + 1)]: 1 })?.message).toBe(
      `a key is longer than ${LIMITS.maxJsonKeyChars} characters`,
    );
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(jsonProblem(circular)).toEqual({ path: 'self', message: 'refers back to itself (circular)' });
    expect(jsonProblem({ when: new Date(0) })?.message).toBe('a Date instance is not JSON data');
    expect(jsonProblem([1, Number.NaN])).toEqual({ path: '[1]', message: 'NaN is not a JSON number' });
    expect(jsonProblem({ f: () => 1 })?.message).toBe('a function is not JSON data');
    expect(jsonProblem({ big: 1n })?.message).toBe('a bigint is not JSON data');
  });
});
