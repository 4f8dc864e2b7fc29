/**
 * The history event counts of lambdas/core/bounds.ts, derived from the synthesized definition:
 * each counted path is walked through the ASL (state by state, following Next / Catch / Choice
 * targets) and its events summed by state type, so a state added to a path breaks this test
 * until HISTORY_PATHS says so.
 */
import { describe, expect, it } from 'vitest';
import { HISTORY_EVENTS, HISTORY_PATHS } from '../../lambdas/core/bounds.js';
import { STATE } from '../../lib/workflow/definition.js';
import { type Asl, type State, synthStack } from './synth.js';

const { asl, iteration } = synthStack();

function eventsOf(state: State): number {
  if (state.Type === 'Task')
    return String(state.Resource).endsWith('.waitForTaskToken')
      ? HISTORY_EVENTS.callbackTask
      : HISTORY_EVENTS.task;
  if (state.Type === 'Map') return HISTORY_EVENTS.map;
  if (['Choice', 'Pass', 'Wait', 'Succeed', 'Fail'].includes(String(state.Type))) return HISTORY_EVENTS.flow;
  throw new Error(`no event count for a ${String(state.Type)} state`);
}

/** Where `from` can go next: Next, Default, Choice targets and Catch targets. */
function successors(state: State): string[] {
  const choices = (state.Choices as { Next: string }[] | undefined) ?? [];
  const catches = (state.Catch as { Next: string }[] | undefined) ?? [];
  return [state.Next, state.Default, ...choices.map((c) => c.Next), ...catches.map((c) => c.Next)].filter(
    (n): n is string => typeof n === 'string',
  );
}

/** The events of a path of state names, each a successor of the one before. */
function walk(machine: Asl, path: string[]): number {
  let total = 0;
  path.forEach((name, i) => {
    const state = machine.States[name];
    if (!state) throw new Error(`no state ${name}`);
    const prev = path[i - 1];
    if (prev !== undefined)
      expect(successors(machine.States[prev] as State), `${prev} -> ${name}`).toContain(name);
    total += eventsOf(state);
  });
  return total;
}

describe('history events per path, from the synthesized definition', () => {
  it('a step that succeeds at once', () => {
    // RunAgent ends the iteration of a step that succeeds (the step runner completed it)
    const path = [STATE.awaitDependencies, STATE.runAgent];
    expect(iteration.States[STATE.runAgent]?.End).toBe(true);
    const stepDone = eventsOf(iteration.States[STATE.stepDone] as State);
    expect(HISTORY_EVENTS.mapIteration + walk(iteration, path) + stepDone).toBe(HISTORY_PATHS.step);
  });

  it('a failed attempt and its retry', () => {
    const path = [
      STATE.runAgent,
      STATE.recordAttemptFailure,
      STATE.retryOrGiveUp,
      STATE.backoff,
      STATE.nextAttempt,
    ];
    expect(walk(iteration, path)).toBe(HISTORY_PATHS.failedAttempt);
    expect(successors(iteration.States[STATE.nextAttempt] as State)).toContain(STATE.runAgent);
  });

  it('a failed fallback', () => {
    expect(walk(iteration, [STATE.runFallback, STATE.fallbackFailed, STATE.retryOrGiveUp])).toBe(
      HISTORY_PATHS.fallback,
    );
  });

  it('an approval round that times out', () => {
    expect(walk(iteration, [STATE.requestApproval, STATE.resolveApproval, STATE.afterApproval])).toBe(
      HISTORY_PATHS.approvalRound,
    );
  });

  it('a review that grants one more attempt, which fails', () => {
    const path = [
      STATE.afterReview,
      STATE.reviewRetry,
      STATE.runAgent,
      STATE.recordAttemptFailure,
      STATE.retryOrGiveUp,
    ];
    // The review gate's own round is counted as an approval round; AfterReview? is in it.
    expect(walk(iteration, path) - HISTORY_EVENTS.flow).toBe(HISTORY_PATHS.reviewExtra);
  });

  it('a fan-out step, whatever its number of items (they run in child executions)', () => {
    const path = [
      STATE.awaitDependencies,
      STATE.prepareItems,
      STATE.itemsReady,
      STATE.runItems,
      STATE.collectItems,
      STATE.stepDone,
    ];
    expect(HISTORY_EVENTS.mapIteration + walk(iteration, path)).toBe(HISTORY_PATHS.fanOutStep);
    expect(iteration.States[STATE.runItems]).toMatchObject({
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' } },
    });
  });

  it('the task around the steps', () => {
    const path = [STATE.plan, STATE.planApproval, STATE.runSteps, STATE.finalize];
    expect(HISTORY_EVENTS.execution + walk(asl, path)).toBe(HISTORY_PATHS.task);
  });
});
