/**
 * The task view's fan-out progress: per fan-out step, done / failed / running / pending counts,
 * from the step's result once it ended, else from its sharded counters (one query) and its
 * FanOutStarted event (a task event the view folds anyway). No item event is read, so the view
 * of a task with 10,000 items costs what a task with 10 does.
 */
import type { TaskEvent } from '../core/events.js';
import type { FanOutPort, StepResult } from '../core/ports.js';
import type { FanOutProgress, Plan, TaskView } from '../core/schemas.js';

export async function withFanOutProgress(
  view: TaskView,
  plan: Plan | undefined,
  events: readonly TaskEvent[],
  deps: { counters?: FanOutPort; results: (stepIds: string[]) => Promise<Map<string, StepResult>> },
): Promise<TaskView> {
  const fanOuts = (plan?.steps ?? []).filter((s) => s.forEach);
  if (fanOuts.length === 0) return view;
  const results = await deps.results(fanOuts.map((s) => s.id));
  const progress = new Map<string, FanOutProgress>();
  await Promise.all(
    fanOuts.map(async (step) => {
      const items = step.forEach?.items ?? '';
      const started = events
        .filter((e): e is Extract<TaskEvent, { type: 'FanOutStarted' }> => e.type === 'FanOutStarted')
        .filter((e) => e.stepId === step.id)
        .at(-1);
      const result = results.get(step.id);
      // Ended in the latest run that started it: its result holds the counts.
      if (result?.items && (!started || result.run >= started.data.run)) {
        const { total, succeeded, failed } = result.items;
        progress.set(step.id, { total, succeeded, failed, running: 0, pending: 0, items });
        return;
      }
      if (!started) return;
      const c = deps.counters
        ? await deps.counters.itemCounters(view.taskId, started.data.run, step.id)
        : { started: 0, succeeded: 0, failed: 0 };
      const total = started.data.total;
      const rerun = started.data.rerun;
      const thisRun = rerun ?? total;
      // A redrive's items are the failed ones: the others succeeded in the run before.
      const before = rerun !== undefined ? total - rerun : 0;
      progress.set(step.id, {
        total,
        succeeded: before + c.succeeded,
        failed: c.failed,
        running: Math.max(0, c.started - c.succeeded - c.failed),
        pending: Math.max(0, thisRun - c.started),
        ...(rerun !== undefined ? { rerun } : {}),
        items,
      });
    }),
  );
  return {
    ...view,
    plan: {
      ...view.plan,
      steps: view.plan.steps.map((s) => {
        const p = progress.get(s.id);
        return p ? { ...s, fanOut: p } : s;
      }),
    },
  };
}
