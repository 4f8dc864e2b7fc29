/**
 * The engine's timers: task TimeoutSeconds, callback timeouts and HeartbeatSeconds. They run on
 * the real clock; `advance` lets a test move the engine's clock forward (e.g. past a day) without
 * waiting for it: every timer that would have fired by then fires at once, in due order, and the
 * others are re-armed with what is left of their time. Wait states and history timestamps keep
 * real time (they are the library's), and the Lambdas see the real clock.
 */
import { timerMs } from './types.js';

export interface EngineTimer {
  readonly dueAt: number;
}

interface ArmedTimer extends EngineTimer {
  dueAt: number;
  fire: () => void;
  handle?: NodeJS.Timeout;
}

export class EngineClock {
  /** How far the engine's clock is ahead of the real one, in ms. */
  private aheadMs = 0;
  private readonly armed = new Set<ArmedTimer>();

  now(): number {
    return Date.now() + this.aheadMs;
  }

  /** Calls `fire` once `seconds` of engine time have passed (capped as setTimeout caps delays). */
  after(seconds: number, fire: () => void): EngineTimer {
    const timer: ArmedTimer = { dueAt: this.now() + timerMs(seconds), fire };
    this.armed.add(timer);
    this.arm(timer);
    return timer;
  }

  cancel(timer: EngineTimer | undefined): void {
    if (!timer) return;
    const armed = timer as ArmedTimer;
    clearTimeout(armed.handle);
    this.armed.delete(armed);
  }

  /** Moves the engine's clock `seconds` forward: what falls due fires now, the rest is re-armed. */
  advance(seconds: number): void {
    if (!(seconds >= 0)) throw new RangeError(`Cannot move the clock by ${seconds} seconds`);
    this.aheadMs += seconds * 1000;
    const timers = [...this.armed].sort((a, b) => a.dueAt - b.dueAt);
    for (const timer of timers) {
      clearTimeout(timer.handle);
      this.arm(timer);
    }
  }

  private arm(timer: ArmedTimer): void {
    const remaining = timer.dueAt - this.now();
    const fire = () => {
      this.armed.delete(timer);
      timer.fire();
    };
    if (remaining <= 0) {
      timer.handle = undefined;
      fire();
    } else {
      timer.handle = setTimeout(fire, remaining);
    }
  }
}
