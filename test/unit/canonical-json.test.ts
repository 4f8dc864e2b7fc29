import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../../lambdas/core/ids.js';

describe('canonicalJson (the one canonical form behind every digest)', () => {
  it('sorts object keys at every depth, so key order does not change a digest', () => {
    // Prepare
    const a = { b: { y: [{ q: 1, p: 2 }], x: 1 }, a: 'first' };
    const b = { a: 'first', b: { x: 1, y: [{ p: 2, q: 1 }] } };
    // Act
    const text = canonicalJson(a);
    // Assess
    expect(text).toBe('{"a":"first","b":{"x":1,"y":[{"p":2,"q":1}]}}');
    expect(sha256Hex(text)).toBe(sha256Hex(canonicalJson(b)));
  });

  it('writes undefined in an array as null, like JSON.stringify', () => {
    // Prepare
    const value = [1, undefined, { list: [undefined, 'x'] }];
    // Act
    const text = canonicalJson(value);
    // Assess
    expect(text).toBe('[1,null,{"list":[null,"x"]}]');
    expect(text).toBe(JSON.stringify(value));
  });

  it('drops object members whose value is undefined, like JSON.stringify', () => {
    // Prepare
    const value = { z: undefined, a: 1, nested: { gone: undefined, kept: null } };
    // Act
    const text = canonicalJson(value);
    // Assess
    expect(text).toBe('{"a":1,"nested":{"kept":null}}');
    expect(canonicalJson({ a: 1, nested: { kept: null } })).toBe(text);
  });

  it('treats functions and symbols as JSON.stringify does, and honours toJSON', () => {
    // Prepare
    const value = {
      at: new Date('2030-01-01T00:00:00.000Z'),
      fn: () => 1,
      list: [() => 1, Symbol('s')],
      custom: { toJSON: () => ({ d: 2, c: 1 }) },
    };
    // Act
    const text = canonicalJson(value);
    // Assess
    expect(text).toBe('{"at":"2030-01-01T00:00:00.000Z","custom":{"c":1,"d":2},"list":[null,null]}');
  });

  it('gives a value with no JSON form the text "null", so there is always something to hash', () => {
    // Act + Assess
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson(null)).toBe('null');
  });
});
