/** fast-check arbitraries of JSON the hostile-input suites share (each brings its own keys and scalars). */
import fc from 'fast-check';

/** Sets each key as an own enumerable member, `__proto__` included (as JSON.parse does). */
export function objectOf(entries: [string, unknown][]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true });
  return o;
}

/** JSON values (scalars, arrays, objects with keys from `key`, nested), and objects of them. */
export function jsonWith(key: fc.Arbitrary<string>, scalar: fc.Arbitrary<unknown>) {
  const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map(objectOf),
    ),
  })).value;
  return { value, object: fc.array(fc.tuple(key, value), { maxLength: 5 }).map(objectOf) };
}
