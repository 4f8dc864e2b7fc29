/**
 * What every audit trail must be, whatever happened to its task (faults, crashes, redrives):
 * the checker the fault, crash and load suites run over each task's events.
 *
 * - no duplicate: event ids are unique, `seq` strictly increases (numbers may skip: a retried
 *   write burns one, see lambdas/adapters/dynamodb/events.ts; order and uniqueness are the
 *   contract, not density);
 * - no gap: one TaskSubmitted and it comes first; every run that started has its
 *   ExecutionStarted; every attempt that started ends (succeeded, failed, or started again with
 *   the next `rerun` number after an interruption) unless the run was cancelled or is still going;
 *   no step succeeds twice (a fan-out step that left failed items may succeed again in a redrive); a task that ended has exactly one outcome for its last run; a task
 *   that succeeded (or degraded) has it after every step event of that run, and every planned
 *   step of that run has its outcome (a failed one may have ended before its steps ran);
 * - it tells what happened: a rerun is numbered 1, 2, … and an interrupted run says
 *   ExecutionResumed.
 */
import type { TrailEvent } from './harness.js';

const TERMINAL = new Set(['TaskSucceeded', 'TaskDegraded', 'TaskFailed', 'TaskCancelled']);
const STEP_OUTCOME = new Set(['StepSucceeded', 'StepFailed', 'StepSkipped']);

/** The run an event belongs to (ids are `r<run>.<Type>.…`, lambdas/core/ids.ts). */
export function runOf(e: TrailEvent): number {
  const m = /^r(\d+)\./.exec(e.id);
  if (!m) throw new Error(`event ${e.id} has no run in its id`);
  return Number(m[1]);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/**
 * The problems of one task's trail (empty when it is sound). `ended`: the task is terminal, so
 * every attempt must have ended and the outcome must be there.
 */
export function trailProblems(events: TrailEvent[], opts: { ended: boolean }): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const [i, e] of events.entries()) {
    if (ids.has(e.id)) problems.push(`duplicate event ${e.id}`);
    ids.add(e.id);
    const prev = events[i - 1];
    if (prev && !(num(e.seq) !== undefined && (e.seq as number) > (prev.seq as number)))
      problems.push(`seq does not increase at ${e.id} (${prev.seq} then ${e.seq})`);
  }
  const submitted = events.filter((e) => e.type === 'TaskSubmitted');
  if (submitted.length !== 1) problems.push(`${submitted.length} TaskSubmitted events`);
  else if (events[0]?.type !== 'TaskSubmitted') problems.push('TaskSubmitted is not the first event');

  const runs = [...new Set(events.map(runOf))].sort((a, b) => a - b);
  const lastRun = runs.at(-1) ?? 1;
  const succeededSteps = new Map<string, number>();
  for (const run of runs) {
    const inRun = events.filter((e) => runOf(e) === run);
    const executions = inRun.filter((e) => e.type === 'ExecutionStarted');
    const cancelled = inRun.some((e) => e.type === 'TaskCancelled');
    if (executions.length > 1) problems.push(`run ${run}: ${executions.length} ExecutionStarted`);
    if (executions.length === 0 && inRun.some((e) => e.type === 'StepStarted'))
      problems.push(`run ${run}: steps started without ExecutionStarted`);
    if (run > 1 && !inRun.some((e) => e.type === 'TaskRedriven'))
      problems.push(`run ${run}: no TaskRedriven`);

    // attempts: each start ends, reruns are numbered 1, 2, … in order
    const open = new Map<string, number>();
    for (const e of inRun) {
      const step = e.stepId ?? '-';
      const attempt = num(e.data.attempt);
      if (e.type === 'StepStarted') {
        const key = `${step}#${attempt}`;
        const rerun = num(e.data.rerun) ?? 0;
        const before = open.get(key);
        const expected = before === undefined ? 0 : before + 1;
        if (rerun !== expected)
          problems.push(`run ${run}: ${key} started with rerun ${rerun}, expected ${expected}`);
        open.set(key, rerun);
      } else if (e.type === 'StepSucceeded' || e.type === 'StepAttemptFailed') {
        const key = `${step}#${attempt}`;
        if (e.type === 'StepSucceeded' || e.data.phase !== 'gate') {
          if (!open.has(key) && e.data.source !== 'review' && e.data.phase !== 'fallback')
            problems.push(`run ${run}: ${e.type} ${key} without StepStarted`);
          open.delete(key);
        }
        // A fan-out step that succeeded with failed items (within its tolerance) may succeed again
        // in a redrive that re-runs those items: only a success with nothing left out counts here.
        const leftOut = num((e.data.output as { failed?: unknown } | undefined)?.failed) ?? 0;
        if (e.type === 'StepSucceeded' && leftOut === 0)
          succeededSteps.set(step, (succeededSteps.get(step) ?? 0) + 1);
      } else if (e.type === 'StepFailed') {
        for (const key of [...open.keys()]) if (key.startsWith(`${step}#`)) open.delete(key);
      }
    }
    const stillOpen = [...open.keys()];
    if (stillOpen.length > 0 && !cancelled && (opts.ended || run < lastRun))
      problems.push(`run ${run}: attempts never ended: ${stillOpen.join(', ')}`);

    // the outcome of an ended run
    const outcomes = inRun.filter((e) => TERMINAL.has(e.type));
    if (outcomes.length > 1) problems.push(`run ${run}: ${outcomes.map((e) => e.type).join(', ')}`);
    if (run === lastRun && opts.ended) {
      if (outcomes.length !== 1) problems.push(`run ${run}: no outcome event although the task ended`);
      const outcome = outcomes[0];
      // A failed task may have ended before its steps ran (a rejected plan, an execution that
      // failed outside the steps): its outcome says so; a succeeded or degraded one accounts for each.
      if (outcome && outcome.type !== 'TaskCancelled' && outcome.type !== 'TaskFailed') {
        const at = events.indexOf(outcome);
        const late = events
          .slice(at + 1)
          .filter((e) => runOf(e) === run && (e.type.startsWith('Step') || e.type === 'ArtifactStored'));
        if (late.length > 0)
          problems.push(`run ${run}: ${late.map((e) => e.id).join(', ')} after the outcome`);
        const planned = [...events].reverse().find((e) => e.type === 'PlanCreated');
        const steps = (planned?.data.steps as { id: string }[] | undefined) ?? [];
        for (const s of steps) {
          const ended = events.some(
            (e) =>
              e.stepId === s.id &&
              (STEP_OUTCOME.has(e.type) || (e.type === 'StepSucceeded' && runOf(e) < run)),
          );
          if (!ended) problems.push(`run ${run}: step ${s.id} has no outcome`);
        }
      }
    }
  }
  for (const [step, n] of succeededSteps) if (n > 1) problems.push(`step ${step} succeeded ${n} times`);
  return problems;
}
