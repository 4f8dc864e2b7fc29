/**
 * Dependency gate (critical-path scheduling). Each step's Map iteration parks in
 * AwaitDependencies (a .waitForTaskToken task) until its own dependencies are done; whoever
 * finishes the last dependency releases it. Both sides evaluate the gate after writing their
 * own fact, so whichever comes second sees everything: no lost wake-ups. A duplicate release
 * is harmless (the second SendTaskSuccess is refused as TaskTimedOut).
 */

import { ErrorNames } from '../core/errors.js';
import { Events } from '../core/events.js';
import { isFinalSuccess } from '../core/fanout.js';
import type { ParkedGate, StepResult, StoredTask } from '../core/ports.js';
import type { Plan } from '../core/schemas.js';
import {
  type CarriedStart,
  type GateAction,
  GateContract,
  type GateInput,
  type GateOutput,
  type GateRelease,
  gateRoute,
  routingOf,
  type StepRouting,
} from '../core/states.js';
import type { OrchestratorDeps } from './deps.js';

export type { GateAction } from '../core/states.js';

/** What a gate decision needs of a task: its ids and plan (not its mutable record). */
export interface GateView {
  task: Pick<StoredTask, 'taskId' | 'traceId'>;
  plan: Plan;
  run: number;
}

export interface GateContext extends GateView {
  task: StoredTask;
}

/**
 * Handler of AwaitDependencies: registers the token, then releases at once if it can.
 *
 * The token is written before the results are read (both strongly consistent), so no wake-up is
 * lost: if this read misses a dependency's result, that result was written after the read, and
 * the dependency's own gate evaluation, which reads the token after writing its result, finds the
 * token. One look is enough; the StepWaiting event is written from what that look read, unless
 * the Plan state wrote it already (`waitRecorded`: a first run without a plan gate).
 */
export async function awaitDependencies(deps: OrchestratorDeps, raw: unknown): Promise<GateOutput> {
  const req = GateContract.input.parse(raw);
  const held: ParkedGate = { token: req.taskToken, routes: req.routes === true };
  const carried = carriedStep(req);
  if (carried) {
    await awaitCarried(deps, { ...req, traceId: carried.traceId }, carried, held);
    return { registered: true };
  }
  // Side by side: the token's write, and the plan (immutable: cached per function instance). The
  // task record is read only when the input lacks the trace id (the state machine passes it).
  const [ctx] = await Promise.all([
    gateView(deps, req),
    deps.store.putToken(req.taskId, req.run, req.stepId, req.taskToken, held.routes),
  ]);
  const look = await lookAtGate(deps, ctx, req.stepId, held);
  if (!look.action) {
    const step = ctx.plan.steps.find((s) => s.id === req.stepId);
    await recordWaiting(deps, { ...req, traceId: ctx.task.traceId }, step?.dependsOn ?? [], look.results);
  }
  return { registered: true };
}

/** What a gate decides with of its step: its dependencies, and how its iteration goes on. */
interface GateStep {
  id: string;
  dependsOn: readonly string[];
  routing: StepRouting;
}

/** The step as the gate's payload carries it (its Map item's dependsOn, approval, forEach), if it does. */
function carriedStep(req: GateInput): (GateStep & { traceId: string }) | undefined {
  const { dependsOn, approval, forEach, traceId } = req;
  if (!dependsOn || approval === undefined || forEach === undefined || traceId === undefined)
    return undefined;
  return { id: req.stepId, dependsOn, routing: { approval, forEach }, traceId };
}

/**
 * AwaitDependencies with its step in the payload: no plan is read to park or to run. A root step
 * (no dependencies) stores no token, since nobody but its own gate answers it. The other ways out
 * (done before, a dependency failed) are decided by the plan's look (lookAtGate): they write the
 * skip and release the step's dependents.
 */
async function awaitCarried(
  deps: OrchestratorDeps,
  req: GateInput & { traceId: string },
  step: GateStep,
  held: ParkedGate,
): Promise<void> {
  if (step.dependsOn.length > 0)
    await deps.store.putToken(req.taskId, req.run, req.stepId, req.taskToken, held.routes);
  const results = await deps.store.getResults(req.taskId, [step.id, ...step.dependsOn]);
  const { action } = gateAction(step, results, req.run);
  if (action === 'run') await releaseGate(deps, step.routing, held, 'run');
  else if (action) await lookAtGate(deps, await gateView(deps, req), req.stepId, held);
  else await recordWaiting(deps, req, step.dependsOn, results);
}

/** The StepWaiting of a parked gate, from what its look read, unless the Plan state wrote it (`waitRecorded`). */
async function recordWaiting(
  deps: OrchestratorDeps,
  req: { taskId: string; traceId: string; run: number; stepId: string; waitRecorded?: boolean | undefined },
  dependsOn: readonly string[],
  results: ReadonlyMap<string, StepResult>,
): Promise<void> {
  if (req.waitRecorded === true) return;
  await deps.store.appendEvent(
    Events.stepWaiting(
      { taskId: req.taskId, traceId: req.traceId, run: req.run, stepId: req.stepId },
      { waitingFor: dependsOn.filter((d) => results.get(d)?.status !== 'SUCCEEDED') },
    ),
  );
}

async function gateView(
  deps: OrchestratorDeps,
  req: { taskId: string; run: number; traceId?: string | undefined },
): Promise<GateView> {
  if (req.traceId === undefined) return loadContext(deps, req.taskId, req.run);
  const plan = await deps.store.getPlan(req.taskId);
  if (!plan) throw new Error(`Task ${req.taskId} has no plan`);
  return { task: { taskId: req.taskId, traceId: req.traceId }, plan, run: req.run };
}

export async function loadContext(
  deps: Pick<OrchestratorDeps, 'store'>,
  taskId: string,
  run: number,
): Promise<GateContext> {
  const { task, plan } = await deps.store.getTaskAndPlan(taskId);
  if (!task || !plan) throw new Error(`Task ${taskId} has no plan`);
  return { task, plan, run };
}

/**
 * Decides a step's gate if its dependencies allow: run (all succeeded), skip (one failed or
 * was skipped in this run), or done (the step itself already succeeded, e.g. after a crash or
 * in a redrive). Returns the action, or undefined while dependencies are still running.
 */
export async function evaluateGate(
  deps: OrchestratorDeps,
  ctx: GateView,
  stepId: string,
): Promise<GateAction | undefined> {
  return (await lookAtGate(deps, ctx, stepId)).action;
}

/**
 * evaluateGate, also giving back the results it read. `token`: the gate's own token when the
 * caller holds it (its AwaitDependencies), so it is not read back.
 */
async function lookAtGate(
  deps: OrchestratorDeps,
  ctx: GateView,
  stepId: string,
  held?: ParkedGate,
): Promise<{ action?: GateAction; results: Map<string, StepResult> }> {
  const step = ctx.plan.steps.find((s) => s.id === stepId);
  if (!step) throw new Error(`Step ${stepId} is not in the plan of task ${ctx.task.taskId}`);
  // Only this step's own result and its dependencies': O(dependencies), whatever the plan's size.
  // The token is read with them (one BatchGetItem): it only matters once they allow a decision.
  const ids = [stepId, ...step.dependsOn];
  const { results, ...read } =
    held === undefined
      ? await deps.store.getResultsAndToken(ctx.task.taskId, ids, { run: ctx.run, stepId })
      : { results: await deps.store.getResults(ctx.task.taskId, ids) };
  const { action, failedDep } = gateAction(step, results, ctx.run);
  if (!action) return { results };

  const parked: ParkedGate | undefined =
    held ?? (read.token !== undefined ? { token: read.token, routes: read.routes === true } : undefined);
  if (!parked) return { results }; // not parked yet: its own AwaitDependencies will evaluate

  if (action === 'skip' && failedDep) {
    const dep = results.get(failedDep) as StepResult;
    const error = {
      name: ErrorNames.DependencyFailed,
      message: `dependency ${failedDep} ${dep.status.toLowerCase()}`,
    };
    await deps.store.appendEvent(
      Events.stepSkipped(
        { taskId: ctx.task.taskId, traceId: ctx.task.traceId, run: ctx.run, stepId },
        { reason: error.message, failedDependency: failedDep, error },
      ),
    );
    await deps.store.putResult(ctx.task.taskId, {
      stepId,
      run: ctx.run,
      status: 'SKIPPED',
      agent: step.agent,
      error,
      at: new Date().toISOString(),
    });
  }
  await releaseGate(deps, routingOf(step), parked, action);
  if (action !== 'run') await releaseDependents(deps, ctx, stepId);
  return { action, results };
}

/**
 * Answers a parked gate: a step that simply runs gets the task success (AwaitDependencies goes on
 * to RunAgent); any other way out is its route's task failure, which the iteration catches into
 * the route's first state (lambdas/core/states.ts gateRoute). A gate of an execution started on
 * a definition without routes (its token stored without the flag) gets the task success with
 * `{ action }` whatever it is, which that definition's Proceed Choice reads. A duplicate answer
 * is harmless. `started`: the StepStarted number the releaser reserved for the step (sent with a
 * plain run only).
 */
async function releaseGate(
  deps: OrchestratorDeps,
  routing: StepRouting,
  gate: ParkedGate,
  action: GateAction,
  started?: CarriedStart,
): Promise<boolean> {
  const route = gate.routes ? gateRoute(action, routing) : undefined;
  if (route) return (await deps.workflow.fail(gate.token, route.error, route.cause)) !== false;
  const release: GateRelease = { action, ...(started && action === 'run' ? { started } : {}) };
  return (await deps.workflow.succeed(gate.token, release)) !== false;
}

/** A gate's decision from the results it read: run, skip, done, or nothing yet (undefined). */
function gateAction(
  step: { id: string; dependsOn: readonly string[] },
  results: ReadonlyMap<string, StepResult>,
  run: number,
): { action?: GateAction; failedDep?: string } {
  const failedDep = step.dependsOn.find((d) => isFailedInRun(results.get(d), run));
  const own = results.get(step.id);
  // Already decided: succeeded in any run, or ended in this one (an execution re-run after a
  // crash does not run it again).
  if (own && (isFinalSuccess(own) || own.run === run)) return { action: 'done' };
  if (failedDep) return { action: 'skip', failedDep };
  if (step.dependsOn.every((d) => results.get(d)?.status === 'SUCCEEDED')) return { action: 'run' };
  return {};
}

/** What a step runner's look at its dependents' gates, before its agent, found (completeStep's `look`). */
export interface GateLook {
  /** The dependents found parked and ready to run once the step succeeds (readyInLook). */
  ready: ReadonlyMap<string, ParkedGate>;
  /**
   * StepStarted numbers the runner reserved in its completion's reservation for the dependents
   * its look found ready to run plainly (carriedStarts), sent with their release.
   */
  starts?: ReadonlyMap<string, CarriedStart>;
}

/**
 * The dependents of `stepId` found parked in `look` (the dependents' tokens, their results and
 * their dependencies', as a step runner read them before its agent) that will run once `stepId`
 * has succeeded in `run`.
 */
export function readyInLook(
  plan: Plan,
  stepId: string,
  look: { results: ReadonlyMap<string, StepResult>; gates: ReadonlyMap<string, ParkedGate> },
  run: number,
): Map<string, ParkedGate> {
  const ready = new Map<string, ParkedGate>();
  // A dependency's result is looked at for its run and status only (gateAction).
  const succeeded: StepResult = { stepId, run, status: 'SUCCEEDED', at: '' };
  const results = new Map(look.results).set(stepId, succeeded);
  for (const s of dependentsOf(plan, stepId)) {
    const gate = look.gates.get(s.id);
    if (gate && gateAction(s, results, run).action === 'run') ready.set(s.id, gate);
  }
  return ready;
}

/**
 * Of the dependents ready in the look, those released straight into RunAgent (a definition with
 * routes, no approval gate, no fan-out), whose first StepStarted the releaser may number.
 */
export function carriedStarts(plan: Plan, ready: ReadonlyMap<string, ParkedGate>): string[] {
  return plan.steps
    .filter((s) => ready.get(s.id)?.routes === true && gateRoute('run', routingOf(s)) === undefined)
    .map((s) => s.id);
}

/**
 * The dependents of `own.stepId` that will run once `own` (its SUCCEEDED result, being written)
 * is stored, with the tokens they parked with: read while the result is written, not after it.
 * A gate found parked with every other dependency succeeded can only be decided `run` (successes
 * are final in a run), so it is released as soon as the write has landed. Any other gate (not
 * parked yet, another dependency still running, a skip) is looked at again after the write
 * (`releaseDependents`): that look, after the write, is what keeps wake-ups from being lost.
 * `look`: what the step runner's look before its agent found; a dependent found ready in it is
 * not read again (the look cannot have gone stale but for the token, which `releaseDependents`
 * looks at again if its release is refused).
 */
export async function readyDependents(
  deps: OrchestratorDeps,
  ctx: GateView,
  own: StepResult,
  look?: GateLook,
): Promise<Map<string, ParkedGate>> {
  const ready = new Map(look?.ready);
  const dependents = dependentsOf(ctx.plan, own.stepId);
  await Promise.all(
    dependents
      .filter((s) => !ready.has(s.id))
      .map(async (s) => {
        const { results, token, routes } = await deps.store.getResultsAndToken(
          ctx.task.taskId,
          [s.id, ...s.dependsOn],
          { run: ctx.run, stepId: s.id },
        );
        results.set(own.stepId, own);
        if (token && gateAction(s, results, ctx.run).action === 'run')
          ready.set(s.id, { token, routes: routes === true });
      }),
  );
  return ready;
}

/** The steps of the plan that depend on `stepId`. */
export function dependentsOf(plan: Plan, stepId: string): Plan['steps'] {
  return plan.steps.filter((s) => s.dependsOn.includes(stepId));
}

/**
 * Re-evaluates the gates of the steps that depend on `stepId`; `ready`: those found ready
 * beside the write of its result (readyDependents), released without another look
 * unless the release is refused (the gate parked again since with a new token: its
 * AwaitDependencies was retried), which looks again (and sends no number: the reserved one is
 * then a gap). `starts`: the StepStarted numbers reserved for some of them (GateLook.starts).
 */
export async function releaseDependents(
  deps: OrchestratorDeps,
  ctx: GateView,
  stepId: string,
  ready?: ReadonlyMap<string, ParkedGate>,
  starts?: ReadonlyMap<string, CarriedStart>,
): Promise<void> {
  // Each dependent's gate on its own (they are independent): in parallel.
  await Promise.all(
    dependentsOf(ctx.plan, stepId).map(async (s) => {
      const gate = ready?.get(s.id);
      if (gate !== undefined && (await releaseGate(deps, routingOf(s), gate, 'run', starts?.get(s.id))))
        return;
      await evaluateGate(deps, ctx, s.id);
    }),
  );
}

function isFailedInRun(r: StepResult | undefined, run: number): boolean {
  return !!r && r.run === run && r.status !== 'SUCCEEDED';
}
