/** The local Step Functions' engine clock (lib/local/sfn/clock.ts): timers, and moving it forward in tests. */
import { describe, expect, it } from 'vitest';
import { EngineClock } from '../../lib/local/sfn/clock.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EngineClock', () => {
  it('fires a timer after its time on the real clock', async () => {
    // Prepare
    const clock = new EngineClock();
    const fired: string[] = [];
    // Act
    clock.after(0.05, () => fired.push('a'));
    await tick(150);
    // Assess
    expect(fired).toEqual(['a']);
  });

  it('fires what falls due when moved forward, in due order, and re-arms the rest with their remaining time', async () => {
    // Prepare: timers due in 1 h, 2 days, 30 min and 25 h
    const clock = new EngineClock();
    const fired: string[] = [];
    clock.after(3600, () => fired.push('1h'));
    clock.after(2 * 86400, () => fired.push('2d'));
    clock.after(1800, () => fired.push('30m'));
    clock.after(25 * 3600, () => fired.push('25h'));
    // Act: one day passes
    clock.advance(86400);
    const afterOneDay = [...fired];
    // ...then another 1 h 0.05 s
    clock.advance(3600);
    const afterTwentyFive = [...fired];
    clock.advance(86400 - 3600 - 0.1);
    await tick(200);
    // Assess
    expect(afterOneDay).toEqual(['30m', '1h']);
    expect(afterTwentyFive).toEqual(['30m', '1h', '25h']);
    expect(fired).toEqual(['30m', '1h', '25h', '2d']);
  });

  it('never fires a cancelled timer', async () => {
    // Prepare
    const clock = new EngineClock();
    const fired: string[] = [];
    const t = clock.after(10, () => fired.push('x'));
    // Act
    clock.cancel(t);
    clock.advance(3600);
    await tick(20);
    // Assess
    expect(fired).toEqual([]);
  });

  it('refuses to move backwards', () => {
    expect(() => new EngineClock().advance(-1)).toThrow(RangeError);
  });
});
