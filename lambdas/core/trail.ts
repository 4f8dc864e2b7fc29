/**
 * What a reader paging the audit trail by `after` may be given now. A writer reserves its events'
 * numbers (the task's COUNTER) before it writes them, and writers run side by side, so for a
 * moment a number can be stored while a smaller one is still on its way. A reader that moved its
 * cursor past the missing number would never see that event (the CLI's --follow, the console's
 * stream). So a page stops before a missing number, unless the event after it was numbered more
 * than EVENT_SETTLE_MS ago: then the number is a gap for good (a duplicate's, a start that
 * failed, a reservation whose writer stopped), and the page goes on past it. An ended task's
 * trail (read after its end) is given as it is.
 */
import type { TaskEvent } from './events.js';

/**
 * How long after an event was numbered a smaller number still missing may yet be written. Every
 * writer stores its events within moments of reserving their numbers (the longest wait is a
 * step runner's artifact bytes, stored beside its reservation); a release that carries its
 * dependent's StepStarted number is used only while it is younger than half of this (runner.ts).
 */
export const EVENT_SETTLE_MS = 10_000;

export interface SettledPage {
  events: TaskEvent[];
  /** Events were held back behind a number that may still be written: read again shortly. */
  heldBack: boolean;
}

/**
 * The longest run of `events` (one page after `after`, in seq order) that no event still to be
 * written can come before: it ends before the first missing number whose next event was
 * numbered (`at`) less than `settleMs` before `now`. All of them when the task has `ended`.
 */
export function settledEvents(
  events: readonly TaskEvent[],
  after: number | undefined,
  opts: { now: Date; ended: boolean; settleMs?: number },
): SettledPage {
  const { now, ended, settleMs = EVENT_SETTLE_MS } = opts;
  if (ended) return { events: [...events], heldBack: false };
  let expected = (after ?? 0) + 1;
  for (const [i, e] of events.entries()) {
    if (e.seq !== expected && now.getTime() - Date.parse(e.at) < settleMs)
      return { events: events.slice(0, i), heldBack: true };
    expected = e.seq + 1;
  }
  return { events: [...events], heldBack: false };
}
