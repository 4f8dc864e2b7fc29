import { describe, expect, it } from 'vitest';

describe('toolchain', () => {
  it('runs on Node 22, the Lambda runtime, brought by the project itself', () => {
    expect(process.versions.node.split('.')[0]).toBe('22');
  });
});
