/**
 * The Lambdas of a fan-out step (`forEach`, lib/workflow/fan-out.ts), around the Distributed Map
 * that runs its items:
 *
 *   PrepareItems  resolves `forEach.items` into one S3 object under the step's attempt prefix
 *                 ([{ index, item }], lambdas/core/fanout.ts) and returns its references; on a
 *                 redrive it writes only the items that failed in the run before, with their indexes.
 *   ItemsFailed   a batch's attempt failed: retry it with the step's retry policy, or record its
 *                 items FAILED (one FanOutItemFailed item event each, and the failed counter).
 *   CollectItems  reads the ResultWriter's manifest and result files, writes results.jsonl (one line
 *                 per item, index order, merged over the run before on a redrive) as the step's
 *                 artifact, records the step's outcome and releases its dependents' gates.
 *
 * Only references travel through the execution (keys, counts); item data stays in S3 and the
 * child executions' inputs.
 */
import type { ArtifactStore } from '../adapters/artifacts.js';
import type { ListedObject } from '../adapters/objects.js';
import { CancelledError, ContractViolationError, ErrorNames, STATES_ERRORS } from '../core/errors.js';
import { Events } from '../core/events.js';
import {
  countLines,
  datasetNames,
  FanOutItem,
  fanOutPrefix,
  fanOutSummary,
  findDataset,
  type ItemCounts,
  type ItemResultLine,
  ItemsUnavailableError,
  itemsFromOutput,
  itemsKeyOf,
  mergeResults,
  parseItemsRef,
  parseResultsJsonl,
  RESULTS_ARTIFACT,
  resultsJsonl,
  resultsPrefixOf,
  withinTolerance,
} from '../core/fanout.js';
import { itemsFromText } from '../core/fanout-items.js';
import type { ArtifactPort, FanOutPort, StepResult } from '../core/ports.js';
import { type Json, LIMITS, type PlanStep } from '../core/schemas.js';
import {
  CollectItemsContract,
  type CollectItemsOutput,
  ItemsResult,
  type PreparedItems,
  PrepareItemsContract,
} from '../core/states.js';
import type { OrchestratorDeps } from './deps.js';
import { fanOutStep } from './fanout-step.js';
import { type GateContext, loadContext, releaseDependents } from './gate.js';
import { readCause } from './steps.js';

/** The S3 operations of a fan-out (lambdas/adapters/objects.ts ObjectStore; a fake in tests). */
export interface FanOutObjects {
  getText(bucket: string, key: string, maxBytes?: number): Promise<string>;
  putText(bucket: string, key: string, body: string, contentType: string): Promise<void>;
  list(bucket: string, prefix: string, max: number): Promise<ListedObject[]>;
}

export interface FanOutDeps extends OrchestratorDeps {
  store: OrchestratorDeps['store'] & ArtifactPort;
  counters: FanOutPort;
  objects: FanOutObjects;
  artifacts: Pick<ArtifactStore, 'put'>;
  /** The artifact bucket: items objects, ResultWriter files and artifacts live there. */
  bucket: string;
  /** Buckets an `s3://` items source may name (the stack grants reading them); none by default. */
  sourceBuckets?: readonly string[];
}

/** The step's result of an earlier run that left items failed (a redrive re-runs those). */
function earlierRun(prior: StepResult | undefined, run: number): StepResult | undefined {
  return prior && prior.run < run && prior.items && prior.items.failed > 0 ? prior : undefined;
}

/* ------------------------------------------------------------------------- PrepareItems */

/** PrepareItems: the items object and its references; `next` says what the state machine does. */
export async function prepareItems(deps: FanOutDeps, raw: unknown): Promise<PreparedItems> {
  const req = PrepareItemsContract.input.parse(raw);
  const ctx = await loadContext(deps, req.taskId, req.run);
  const step = fanOutStep(ctx, req.stepId);
  if (ctx.task.status === 'CANCELLED')
    throw new CancelledError(`Task ${req.taskId} was cancelled; step ${req.stepId} does not start`);
  const prefix = fanOutPrefix(req.taskId, req.stepId, req.attempt);
  const key = itemsKeyOf(prefix);
  const base = {
    bucket: deps.bucket,
    key,
    resultPrefix: resultsPrefixOf(prefix),
    maxConcurrency: step.forEach.maxConcurrency,
    itemsPerBatch: step.forEach.itemsPerBatch,
    toleratedFailurePercentage: step.forEach.toleratedFailurePercentage,
  };
  const results = await deps.store.getResults(req.taskId, [step.id, ...step.dependsOn]);
  const scope = {
    taskId: req.taskId,
    traceId: ctx.task.traceId,
    run: req.run,
    stepId: step.id,
    attempt: req.attempt,
  };

  let entries: FanOutItem[];
  let total: number;
  let rerun: number | undefined;
  try {
    const earlier = earlierRun(results.get(step.id), req.run);
    if (earlier) {
      // A redrive: only the items that failed, from the earlier attempt's own items object.
      const lines = await readResults(deps, req.taskId, earlier);
      const failed = new Set(lines.filter((l) => l.status === 'FAILED').map((l) => l.index));
      const before = await readItems(deps, fanOutPrefix(req.taskId, step.id, earlier.attempt ?? 1));
      entries = before.filter((e) => failed.has(e.index));
      total = earlier.items?.total ?? before.length;
      rerun = entries.length;
    } else {
      const items = await resolveItems(deps, ctx, step, results);
      entries = items.map((item, index) => ({ index, item }));
      total = entries.length;
    }
  } catch (err) {
    if (!(err instanceof ItemsUnavailableError)) throw err;
    // The step cannot run: it fails, as a step whose agent failed for good (its dependents skip).
    await deps.store.appendEvent(
      Events.stepStarted(scope, { attempt: req.attempt, agent: step.agent, run: req.run }),
    );
    await failFanOut(deps, ctx, step, req.attempt, { name: err.name, message: err.message }, undefined);
    return { ...base, count: 0, total: 0, next: 'done' };
  }
  await deps.objects.putText(deps.bucket, key, JSON.stringify(entries), 'application/json');
  await deps.store.appendEvents([
    Events.stepStarted(scope, { attempt: req.attempt, agent: step.agent, run: req.run }),
    Events.fanOutStarted(scope, {
      attempt: req.attempt,
      run: req.run,
      agent: step.agent,
      items: step.forEach.items,
      total,
      ...(rerun !== undefined ? { rerun } : {}),
      maxConcurrency: step.forEach.maxConcurrency,
      itemsPerBatch: step.forEach.itemsPerBatch,
      toleratedFailurePercentage: step.forEach.toleratedFailurePercentage,
    }),
  ]);
  return { ...base, count: entries.length, total, next: entries.length > 0 ? 'run' : 'collect' };
}

/** The items `forEach.items` names, read from the inputs, an upstream result or artifact, or S3. */
async function resolveItems(
  deps: FanOutDeps,
  ctx: GateContext,
  step: PlanStep & { forEach: NonNullable<PlanStep['forEach']> },
  results: Map<string, StepResult>,
): Promise<Json[]> {
  const ref = step.forEach.items;
  const source = parseItemsRef(ref);
  switch (source.kind) {
    case 'dataset': {
      const inputs = await deps.store.getInputs(ctx.task.taskId);
      const dataset = findDataset(inputs, source.name);
      if (!dataset) {
        const names = datasetNames(inputs);
        throw new ItemsUnavailableError(
          `${ref}: the task has no dataset "${source.name}"${names.length ? ` (datasets: ${names.join(', ')})` : ''}`,
        );
      }
      return itemsFromText(dataset.body, dataset.contentType, ref, dataset.name);
    }
    case 'output': {
      const up = results.get(source.stepId);
      if (up?.status !== 'SUCCEEDED')
        throw new ItemsUnavailableError(`${ref}: step ${source.stepId} has no output`);
      return itemsFromOutput(up.output, source.path, ref);
    }
    case 'artifact': {
      const up = results.get(source.stepId);
      const art = up?.artifacts?.find((a) => a.name === source.name);
      if (!art) {
        const names = (up?.artifacts ?? []).map((a) => a.name);
        throw new ItemsUnavailableError(
          `${ref}: step ${source.stepId} has no artifact "${source.name}"${names.length ? ` (artifacts: ${names.join(', ')})` : ''}`,
        );
      }
      const stored = await deps.store.getArtifact(ctx.task.taskId, art.id);
      if (!stored)
        throw new ContractViolationError(`Artifact ${art.id} of step ${source.stepId} has no record`);
      const text = await deps.objects.getText(deps.bucket, stored.s3Key, LIMITS.maxArtifactBytes);
      return itemsFromText(text, stored.contentType, ref, stored.name);
    }
    case 's3': {
      if (!(deps.sourceBuckets ?? []).includes(source.bucket))
        throw new ItemsUnavailableError(
          `${ref}: this deployment may not read bucket ${source.bucket} (the stack's fanOutSourceBuckets${deps.sourceBuckets?.length ? `: ${deps.sourceBuckets.join(', ')}` : ' is empty'})`,
        );
      const objects = await deps.objects.list(source.bucket, source.prefix, LIMITS.maxFanOutItems + 1);
      if (objects.length > LIMITS.maxFanOutItems)
        throw new ItemsUnavailableError(
          `${ref} has more than ${LIMITS.maxFanOutItems} objects; a fan-out step takes at most ${LIMITS.maxFanOutItems}`,
        );
      // One item per object: its reference (the agent is given no S3 access of its own).
      return objects.map((o) => ({ bucket: source.bucket, ...o }));
    }
  }
}

async function readItems(deps: FanOutDeps, prefix: string): Promise<FanOutItem[]> {
  const text = await deps.objects.getText(deps.bucket, itemsKeyOf(prefix));
  return FanOutItem.array().parse(JSON.parse(text));
}

/** The results.jsonl lines of an earlier result of the step. */
async function readResults(deps: FanOutDeps, taskId: string, result: StepResult): Promise<ItemResultLine[]> {
  const ref = result.artifacts?.find((a) => a.name === RESULTS_ARTIFACT.name);
  if (!ref) return [];
  const stored = await deps.store.getArtifact(taskId, ref.id);
  if (!stored) return [];
  return parseResultsJsonl(await deps.objects.getText(deps.bucket, stored.s3Key));
}

/* -------------------------------------------------------------------------- ItemsFailed */

/**
 * ItemsFailed: a batch's attempt failed. Retried per the step's retry policy (the same rule as a
 * step's attempts, lambdas/core/retry.ts); when it gives up, each of its items is recorded FAILED
 * (a FanOutItemFailed item event, the failed counter) and the child execution fails.
 */
/* ------------------------------------------------------------------------- CollectItems */

/** The ResultWriter's manifest (AWS's format: result files by child execution status). */
interface Manifest {
  ResultFiles?: Record<string, { Key: string; Size?: number }[] | undefined>;
}
/** One child execution in a ResultWriter result file. */
interface ChildResult {
  Input?: unknown;
  Output?: unknown;
  Status?: string;
  Error?: string;
  Cause?: string;
}

const asJson = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
};

/** This run's lines from the ResultWriter's files: each child's items, SUCCEEDED with its outputs or FAILED with its error. */
async function linesFromResultWriter(
  deps: FanOutDeps,
  run: number,
  manifestKey: string | undefined,
  resultPrefix: string,
): Promise<ItemResultLine[]> {
  let key = manifestKey;
  if (!key) {
    // The map failed (or its output is lost): its manifest is the newest under the prefix, if any.
    const listed = await deps.objects.list(deps.bucket, `${resultPrefix}/`, 100_000);
    key = listed
      .filter((o) => o.key.endsWith('/manifest.json'))
      .sort((a, b) => (a.lastModified ?? '').localeCompare(b.lastModified ?? ''))
      .at(-1)?.key;
  }
  if (!key) return [];
  const manifest = asJson(await deps.objects.getText(deps.bucket, key)) as Manifest | undefined;
  const lines: ItemResultLine[] = [];
  for (const [status, files] of Object.entries(manifest?.ResultFiles ?? {})) {
    for (const file of files ?? []) {
      const children = asJson(await deps.objects.getText(deps.bucket, file.Key));
      if (!Array.isArray(children)) continue;
      for (const child of children as ChildResult[]) {
        const input = asJson(child.Input) as { Items?: unknown } | undefined;
        const items = FanOutItem.array().safeParse(input?.Items);
        if ((child.Status ?? status) === 'SUCCEEDED') {
          const out = ItemsResult.safeParse(asJson(child.Output));
          for (const r of out.success ? out.data.results : [])
            lines.push({
              index: r.index,
              status: 'SUCCEEDED',
              summary: r.summary,
              ...(r.output !== undefined ? { output: r.output } : {}),
              run,
            });
          continue;
        }
        const error = child.Error
          ? readCause({ Error: child.Error, ...(child.Cause !== undefined ? { Cause: child.Cause } : {}) })
          : { name: ErrorNames.ItemNotRun, message: `the child execution ended ${child.Status ?? status}` };
        for (const it of items.success ? items.data : [])
          lines.push({ index: it.index, status: 'FAILED', error, run });
      }
    }
  }
  return lines;
}

/** CollectItems: results.jsonl, the step's outcome (SUCCEEDED within the tolerance, else FAILED), its dependents released. */
export async function collectItems(deps: FanOutDeps, raw: unknown): Promise<CollectItemsOutput> {
  const req = CollectItemsContract.input.parse(raw);
  const ctx = await loadContext(deps, req.taskId, req.run);
  const step = fanOutStep(ctx, req.stepId);
  if (ctx.task.status === 'CANCELLED') return { status: 'FAILED' };
  const prefix = fanOutPrefix(req.taskId, step.id, req.attempt);
  const prior = (await deps.store.getResults(req.taskId, [step.id])).get(step.id);
  const earlier = earlierRun(prior, req.run);
  const earlierLines = earlier ? await readResults(deps, req.taskId, earlier) : [];
  const total = earlier?.items?.total ?? (await readItems(deps, prefix)).length;
  const current = await linesFromResultWriter(deps, req.run, req.manifestKey, resultsPrefixOf(prefix));
  const notRun = req.error
    ? {
        name: ErrorNames.ItemNotRun,
        message: `not run: the step's map ended with ${readCause(req.error).name}`,
      }
    : { name: ErrorNames.ItemNotRun, message: 'the item has no result' };
  const lines = mergeResults(total, earlierLines, current, notRun);
  const counts = countLines(lines);
  const tolerated = step.forEach.toleratedFailurePercentage;
  const art = await deps.artifacts.put({
    taskId: req.taskId,
    stepId: step.id,
    attempt: req.attempt,
    name: RESULTS_ARTIFACT.name,
    contentType: RESULTS_ARTIFACT.contentType,
    body: Buffer.from(resultsJsonl(lines), 'utf8'),
  });
  await deps.store.putArtifact(req.taskId, art);
  const { s3Key: _k, attempt: _a, ...ref } = art;
  const scope = {
    taskId: req.taskId,
    traceId: ctx.task.traceId,
    run: req.run,
    stepId: step.id,
    attempt: req.attempt,
  };
  const within = withinTolerance(counts.failed, counts.total, tolerated);
  // A map that failed for another reason than the tolerance fails the step, whatever was counted.
  const mapError =
    req.error && req.error.Error !== STATES_ERRORS.ExceedToleratedFailureThreshold
      ? readCause(req.error)
      : undefined;
  await deps.store.appendEvents([
    Events.artifactStored(scope, {
      artifactId: ref.id,
      name: ref.name,
      contentType: ref.contentType,
      size: ref.size,
      sha256: ref.sha256,
    }),
    Events.fanOutCompleted(scope, {
      total: counts.total,
      succeeded: counts.succeeded,
      failed: counts.failed,
      toleratedFailurePercentage: tolerated,
      withinTolerance: within && !mapError,
      artifactId: ref.id,
    }),
  ]);
  const summary = fanOutSummary(step.id, counts, tolerated);
  if (!within || mapError) {
    const error = mapError ?? { name: ErrorNames.FanOutFailed, message: summary };
    await failFanOut(deps, ctx, step, req.attempt, error, { counts, artifacts: [ref] });
    return { status: 'FAILED' };
  }
  const output = {
    total: counts.total,
    succeeded: counts.succeeded,
    failed: counts.failed,
    ...(counts.failedIndexes ? { failedIndexes: counts.failedIndexes } : {}),
  };
  await deps.store.appendEvent(
    Events.stepSucceeded(scope, {
      attempt: req.attempt,
      agent: step.agent,
      summary,
      output,
      artifacts: [ref],
    }),
  );
  await deps.store.putResult(req.taskId, {
    stepId: step.id,
    run: req.run,
    status: 'SUCCEEDED',
    attempt: req.attempt,
    agent: step.agent,
    summary,
    output,
    artifacts: [ref],
    items: counts,
    at: new Date().toISOString(),
  });
  await releaseDependents(deps, ctx, step.id);
  return { status: 'SUCCEEDED' };
}

/** The fan-out step FAILED in this run: its event, its result (with its items and results.jsonl), its dependents (they skip). */
async function failFanOut(
  deps: FanOutDeps,
  ctx: GateContext,
  step: PlanStep,
  attempt: number,
  error: { name: string; message: string },
  made: { counts: ItemCounts; artifacts: StepResult['artifacts'] } | undefined,
): Promise<void> {
  const run = ctx.run;
  await deps.store.appendEvent(
    Events.stepFailed(
      { taskId: ctx.task.taskId, traceId: ctx.task.traceId, run, stepId: step.id },
      { attempts: attempt, error, reason: error.message },
    ),
  );
  await deps.store.putResult(ctx.task.taskId, {
    stepId: step.id,
    run,
    status: 'FAILED',
    attempt,
    agent: step.agent,
    error,
    ...(made ? { items: made.counts, artifacts: made.artifacts } : {}),
    at: new Date().toISOString(),
  });
  await releaseDependents(deps, ctx, step.id);
}
