/**
 * Fan-out steps (`forEach`, README "Fan-out steps"): where their items come from, the items
 * object the Distributed Map reads, an item's line of the step's results.jsonl, the tolerance
 * rule and the progress counters' shards. Pure: no AWS SDK (the orchestrator's fanout.ts does the I/O).
 *
 * A fan-out step's objects, under its attempt's prefix in the artifact bucket:
 *   tasks/<task>/steps/<step>/<attempt>/fanout/items.json     what PrepareItems wrote: [{ index, item }]
 *   tasks/<task>/steps/<step>/<attempt>/fanout/results/...    the Distributed Map's ResultWriter (manifest.json, result files)
 *   tasks/<task>/steps/<step>/<attempt>/results.jsonl         the step's artifact: one line per item, in index order
 * The items object holds `{ index, item }` pairs, not bare items: a redrive runs only the items
 * that failed before, and each keeps its index (`$$.Map.Item.Index` would count from 0 again).
 */
import * as z from 'zod';
import { BatonError, ErrorNames } from './errors.js';
import { ErrorInfo, type Json, JsonValue, LIMITS, type PlanStep, StepId } from './schemas.js';

/** The items could not be read: a missing dataset or artifact, not an array, too many, too large. */
export class ItemsUnavailableError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.ItemsUnavailable;
  }
}

/* ------------------------------------------------------------------ where the items are */

export type ItemsSource =
  | { kind: 'dataset'; name: string }
  | { kind: 'output'; stepId: string; path: string[] }
  | { kind: 'artifact'; stepId: string; name: string }
  | { kind: 's3'; bucket: string; prefix: string };

/** Reads `forEach.items` (ItemsRef in schemas.ts has checked its form). */
export function parseItemsRef(ref: string): ItemsSource {
  if (ref.startsWith('inputs.datasets.'))
    return { kind: 'dataset', name: ref.slice('inputs.datasets.'.length) };
  if (ref.startsWith('s3://')) {
    const rest = ref.slice('s3://'.length);
    const slash = rest.indexOf('/');
    return { kind: 's3', bucket: rest.slice(0, slash), prefix: rest.slice(slash + 1) };
  }
  const m = /^steps\.([^.]+)\.(output|artifacts)\.(.+)$/.exec(ref);
  if (!m) throw new ItemsUnavailableError(`forEach.items "${ref}" names no items`);
  const [, stepId, part, rest] = m as unknown as [string, string, string, string];
  return part === 'output'
    ? { kind: 'output', stepId, path: rest.split('.') }
    : { kind: 'artifact', stepId, name: rest };
}

/** The step a `steps.<id>` reference reads (a dependency of the fan-out step), if any. */
export function itemsDependency(ref: string): string | undefined {
  const source = parseItemsRef(ref);
  return source.kind === 'output' || source.kind === 'artifact' ? source.stepId : undefined;
}

/** A dataset of the task's `inputs.datasets` ([{ name, contentType, body }]), by name. */
export function findDataset(
  inputs: Record<string, Json>,
  name: string,
): { name: string; contentType: string; body: string } | undefined {
  const list = inputs.datasets;
  if (!Array.isArray(list)) return undefined;
  for (const d of list) {
    if (d && typeof d === 'object' && !Array.isArray(d) && d.name === name) {
      return {
        name,
        contentType: typeof d.contentType === 'string' ? d.contentType : 'application/json',
        body: typeof d.body === 'string' ? d.body : JSON.stringify(d.body ?? null),
      };
    }
  }
  return undefined;
}

/** The names of the task's datasets (for messages). */
export function datasetNames(inputs: Record<string, Json>): string[] {
  const list = inputs.datasets;
  if (!Array.isArray(list)) return [];
  return list.flatMap((d) =>
    d && typeof d === 'object' && !Array.isArray(d) && typeof d.name === 'string' ? [d.name] : [],
  );
}

const mediaType = (contentType: string) => contentType.split(';')[0]?.trim().toLowerCase() ?? '';

const JSONL_TYPES = [
  'application/jsonl',
  'application/x-ndjson',
  'application/x-jsonlines',
  'application/json-lines',
];

/** How a document's items are read: by its content type, else by its file name's extension. */
export function itemsFormat(contentType: string, name = ''): 'csv' | 'jsonl' | 'json' | undefined {
  const t = mediaType(contentType);
  if (t === 'text/csv') return 'csv';
  if (JSONL_TYPES.includes(t)) return 'jsonl';
  if (t === 'application/json') return /\.(jsonl|ndjson)$/i.test(name) ? 'jsonl' : 'json';
  if (/\.csv$/i.test(name)) return 'csv';
  if (/\.(jsonl|ndjson)$/i.test(name)) return 'jsonl';
  if (/\.json$/i.test(name)) return 'json';
  return undefined;
}

/** The array at `path` of an upstream step's output. */
export function itemsFromOutput(output: Json | undefined, path: readonly string[], label: string): Json[] {
  let at: Json | undefined = output;
  for (const key of path) {
    at = at && typeof at === 'object' && !Array.isArray(at) ? at[key] : undefined;
  }
  if (!Array.isArray(at)) throw new ItemsUnavailableError(`${label} is not an array (it is ${describe(at)})`);
  return checked(at, label);
}

function describe(v: Json | undefined): string {
  if (v === undefined) return 'not there';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** The item limits: at most LIMITS.maxFanOutItems items, each at most LIMITS.maxItemBytes serialized. */
export function checked(items: Json[], label: string): Json[] {
  if (items.length > LIMITS.maxFanOutItems)
    throw new ItemsUnavailableError(
      `${label} has ${items.length} items; a fan-out step takes at most ${LIMITS.maxFanOutItems}`,
    );
  items.forEach((item, index) => {
    const bytes = Buffer.byteLength(JSON.stringify(item) ?? '', 'utf8');
    if (bytes > LIMITS.maxItemBytes)
      throw new ItemsUnavailableError(
        `${label} item ${index} is ${bytes} bytes; an item is at most ${LIMITS.maxItemBytes} (pass a reference to larger data)`,
      );
  });
  return items;
}

/* ------------------------------------------------------------------ the objects of a fan-out */

/** One entry of the items object: the item and its index among the step's items. */
export const FanOutItem = z.object({ index: z.number().int().min(0), item: JsonValue });
export type FanOutItem = z.infer<typeof FanOutItem>;

/** Where a fan-out attempt's objects are (see the module comment). */
export function fanOutPrefix(taskId: string, stepId: string, attempt: number): string {
  return `tasks/${taskId}/steps/${stepId}/${attempt}/fanout`;
}
export const itemsKeyOf = (prefix: string) => `${prefix}/items.json`;
export const resultsPrefixOf = (prefix: string) => `${prefix}/results`;

/** The step's artifact: one line per item, in index order. */
export const RESULTS_ARTIFACT = { name: 'results.jsonl', contentType: 'application/jsonl' } as const;

/** One line of results.jsonl. */
export const ItemResultLine = z.object({
  index: z.number().int().min(0),
  status: z.enum(['SUCCEEDED', 'FAILED']),
  summary: z.string().optional(),
  output: JsonValue.optional(),
  error: ErrorInfo.optional(),
  /** The run the item's outcome is from (a redrive re-runs the failed ones). */
  run: z.number().int().optional(),
});
export type ItemResultLine = z.infer<typeof ItemResultLine>;

/** What the item runner returns for one item that succeeded (the child execution's output). */
export const ItemOutcome = z.object({
  index: z.number().int().min(0),
  summary: z.string(),
  output: JsonValue.optional(),
});
export type ItemOutcome = z.infer<typeof ItemOutcome>;

/** results.jsonl as text: one JSON line per item, in index order, ending with a newline. */
export function resultsJsonl(lines: readonly ItemResultLine[]): string {
  const sorted = [...lines].sort((a, b) => a.index - b.index);
  return sorted.map((l) => JSON.stringify(l)).join('\n') + (sorted.length ? '\n' : '');
}

/** Reads results.jsonl back (a redrive keeps the lines of items that succeeded before). */
export function parseResultsJsonl(text: string): ItemResultLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => ItemResultLine.parse(JSON.parse(l)));
}

/**
 * The step's lines: `total` items, this run's outcomes over the earlier run's (a redrive), an
 * item with neither FAILED as not run (the map run stopped before it).
 */
export function mergeResults(
  total: number,
  earlier: readonly ItemResultLine[],
  current: readonly ItemResultLine[],
  notRun: { name: string; message: string },
): ItemResultLine[] {
  const byIndex = new Map<number, ItemResultLine>();
  for (const l of earlier) byIndex.set(l.index, l);
  for (const l of current) byIndex.set(l.index, l);
  const out: ItemResultLine[] = [];
  for (let index = 0; index < total; index++) {
    out.push(byIndex.get(index) ?? { index, status: 'FAILED', error: notRun });
  }
  return out;
}

/* ------------------------------------------------------------------ tolerance, counts */

/**
 * Whether `failed` of `total` items is within the tolerance: as a Distributed Map decides, the
 * step fails when the percentage of failed items exceeds `toleratedFailurePercentage`.
 */
export function withinTolerance(failed: number, total: number, toleratedFailurePercentage: number): boolean {
  if (failed === 0) return true;
  if (total === 0) return true;
  return (failed * 100) / total <= toleratedFailurePercentage;
}

/** What `result.missing` names for a failed item. */
export function itemRef(stepId: string, index: number): string {
  return `${StepId.parse(stepId)}[${index}]`;
}

/** The first LIMITS.maxMissingItems failed indexes, in order. */
export function missingIndexes(lines: readonly ItemResultLine[]): number[] {
  return lines
    .filter((l) => l.status === 'FAILED')
    .map((l) => l.index)
    .sort((a, b) => a - b)
    .slice(0, LIMITS.maxMissingItems);
}

/** A fan-out step's item counts, as its result records them. */
export const ItemCounts = z.object({
  total: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  /** The failed indexes (the first LIMITS.maxMissingItems). */
  failedIndexes: z.array(z.number().int()).optional(),
});
export type ItemCounts = z.infer<typeof ItemCounts>;

export function countLines(lines: readonly ItemResultLine[]): ItemCounts {
  const failed = lines.filter((l) => l.status === 'FAILED').length;
  return {
    total: lines.length,
    succeeded: lines.length - failed,
    failed,
    ...(failed > 0 ? { failedIndexes: missingIndexes(lines) } : {}),
  };
}

/** The step's summary line. */
export function fanOutSummary(stepId: string, counts: ItemCounts, tolerated: number): string {
  const within = withinTolerance(counts.failed, counts.total, tolerated);
  return (
    `${counts.total} item${counts.total === 1 ? '' : 's'} of ${stepId}: ${counts.succeeded} succeeded, ${counts.failed} failed` +
    (counts.failed === 0
      ? ''
      : within
        ? ` (within the ${tolerated}% tolerated)`
        : ` (over the ${tolerated}% tolerated)`)
  );
}

/**
 * Progress counters are sharded (an item adds to the shard of its index), so that thousands of
 * items ending at once do not all write one DynamoDB item; a reader sums the shards.
 */
export const COUNTER_SHARDS = 16;
export const counterShard = (index: number) => index % COUNTER_SHARDS;

/** What an item adds to its shard's counters. */
export type ItemCounter = 'started' | 'succeeded' | 'failed';
export interface CounterTotals {
  started: number;
  succeeded: number;
  failed: number;
}

/** The input an item's agent gets: the step's input plus `item` and `index`. */
export function itemInput(step: Pick<PlanStep, 'input'>, item: FanOutItem): Record<string, Json> {
  return { ...step.input, item: item.item, index: item.index };
}

/**
 * Whether a step's result is final: it SUCCEEDED with nothing left out. A fan-out step that
 * succeeded within its tolerance, with failed items, is not: a redrive re-runs those items.
 */
export function isFinalSuccess(result: { status: string; items?: { failed: number } } | undefined): boolean {
  return result?.status === 'SUCCEEDED' && !(result.items && result.items.failed > 0);
}
