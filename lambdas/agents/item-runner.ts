/**
 * The item runner: the step runner's item mode, what each child execution of a fan-out step's
 * Distributed Map invokes (RunItems). Trusted, like the step runner (runner.ts), and for the same
 * reason: the agent function stays without any Baton permission. For one batch of items (one
 * item unless `forEach.itemsPerBatch`) it
 * - reads the task, plan, inputs and upstream results (as the step would see them);
 * - invokes the step's agent once per item, concurrently, with the step's input plus `item` and
 *   `index`, and presigned GETs of the step's upstream artifacts (no upload slots);
 * - checks each answer (the runner protocol, the generic output contract); an item's agent tool
 *   and model calls become the item's events (`item` on the envelope, numbered per item attempt);
 * - counts items started and succeeded (sharded counters: no event per success);
 * - returns each item's summary and output: the child execution's output, which the map's
 *   ResultWriter writes to S3 for CollectItems. Nothing else of an item is written.
 * A failed item fails its batch's attempt (ItemsFailed retries the batch or records its items).
 * Artifacts an item's agent returns are not kept: the step's artifact is results.jsonl.
 */
import { BatonError, CancelledError, ContractViolationError } from '../core/errors.js';
import { itemInput } from '../core/fanout.js';
import type { ArtifactPort, EventPort, FanOutPort, ResultPort, TaskPort } from '../core/ports.js';
import {
  AgentInput,
  type ArtifactRef,
  type Json,
  type Plan,
  type PlanStep,
  type UpstreamResult,
} from '../core/schemas.js';
import { type ItemsResult, RunItemsContract } from '../core/states.js';
import { countByShard } from '../orchestrator/item-counters.js';
import { tokensUsedByTask } from './audit.js';
import { policyTokenBudget } from './context.js';
import { checkAgentOutput } from './define.js';
import { type AgentRequest, AgentResponse, URL_GRACE_SECONDS } from './protocol.js';
import { AgentInvocationError, agentError, auditEvents, upstreamResults } from './runner.js';

/** All of a batch's items' results, serialized: the child execution's output (256 KB) with room to spare. */
export const MAX_BATCH_RESULT_BYTES = 200 * 1024;

export interface ItemRunnerDeps {
  store: TaskPort & EventPort & ResultPort & ArtifactPort;
  counters: FanOutPort;
  artifacts: {
    downloadUrl(
      s3Key: string,
      p: { contentType: string; fileName: string; expiresInSeconds: number },
    ): Promise<string>;
  };
  invokeAgent(functionName: string, request: AgentRequest): Promise<unknown>;
  log?: (line: Record<string, unknown>) => void;
}

/** RunItems: one attempt of one batch of a fan-out step's items. */
export async function runItems(deps: ItemRunnerDeps, raw: unknown): Promise<ItemsResult> {
  const inv = RunItemsContract.input.parse(raw);
  const { store } = deps;
  const [task, plan] = await Promise.all([store.getTask(inv.taskId), store.getPlan(inv.taskId)]);
  const step = plan?.steps.find((s) => s.id === inv.stepId);
  if (!task || !plan || !step?.forEach)
    throw new ContractViolationError(`Fan-out step ${inv.stepId} of task ${inv.taskId} does not exist`);
  if (task.status === 'CANCELLED')
    throw new CancelledError(`Task ${task.taskId} was cancelled; items of step ${step.id} do not run`);
  const indexes = inv.items.map((i) => i.index);
  if (inv.itemAttempt === 1)
    await countByShard(deps.counters, task.taskId, inv.run, step.id, indexes, 'started');

  const [{ upstream, stored }, inputs] = await Promise.all([
    upstreamOf(store, task.taskId, inv.run, step, plan),
    store.getInputs(task.taskId),
  ]);
  const expiresIn = step.timeoutSeconds + URL_GRACE_SECONDS;
  const readable = await Promise.all(
    stored.map(async ({ ref, s3Key, contentType, name }) => ({
      ref,
      url: await deps.artifacts.downloadUrl(s3Key, {
        contentType,
        fileName: name,
        expiresInSeconds: expiresIn,
      }),
    })),
  );
  const maxTokens = policyTokenBudget(task.policy);
  // The task's own model calls (item calls are item events, which allEvents leaves out).
  const taskTokensUsed = maxTokens === undefined ? 0 : tokensUsedByTask(await store.allEvents(task.taskId));
  const scope = {
    taskId: task.taskId,
    traceId: task.traceId,
    run: inv.run,
    stepId: step.id,
    attempt: inv.attempt,
  };

  const settled = await Promise.allSettled(
    inv.items.map(async (item) => {
      const input = AgentInput.parse({
        taskId: task.taskId,
        stepId: step.id,
        attempt: inv.attempt,
        agent: step.agent,
        goal: task.goal,
        input: itemInput(step, item),
        inputs,
        upstream,
      });
      const request: AgentRequest = {
        protocol: 1,
        input,
        run: inv.run,
        traceId: task.traceId,
        timeoutSeconds: step.timeoutSeconds,
        ...(maxTokens !== undefined ? { taskMaxTokens: maxTokens } : {}),
        taskTokensUsed,
        readable,
        uploads: [],
      };
      let rawAnswer: unknown;
      try {
        rawAnswer = await deps.invokeAgent(inv.agentFunction, request);
      } catch (err) {
        if (err instanceof AgentInvocationError && err.errorType === 'Function.ResponseSizeTooLarge')
          throw new ContractViolationError(
            `Agent "${step.agent}" answered more than a Lambda response holds`,
            {
              cause: err,
            },
          );
        throw err;
      }
      const parsed = AgentResponse.safeParse(rawAnswer);
      if (!parsed.success)
        throw new ContractViolationError(`Agent "${step.agent}" answered outside the runner protocol`, {
          cause: parsed.error,
        });
      const answer = parsed.data;
      // The item's calls, as its own events (the scope's `item` makes them item events).
      const audit = auditEvents(
        step.agent,
        { ...scope, item: { index: item.index, attempt: inv.itemAttempt } },
        answer.audit,
      );
      if (audit.length > 0) await store.appendEvents(audit);
      if (!answer.ok) throw agentError(answer.error);
      const out = checkAgentOutput(step.agent, {
        summary: answer.summary,
        ...(answer.output !== undefined ? { output: answer.output } : {}),
      });
      return {
        index: item.index,
        summary: out.summary,
        ...(out.output !== undefined ? { output: out.output as Json } : {}),
      };
    }),
  );
  const failures = settled.flatMap((s, i) =>
    s.status === 'rejected' ? [{ index: indexes[i] as number, err: s.reason }] : [],
  );
  if (failures.length > 0) throw batchError(failures);
  const outcomes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const bytes = Buffer.byteLength(JSON.stringify(outcomes), 'utf8');
  if (bytes > MAX_BATCH_RESULT_BYTES)
    throw new ContractViolationError(
      `The outputs of items ${indexes[0]}-${indexes.at(-1)} are ${bytes} bytes together; a batch's are at most ${MAX_BATCH_RESULT_BYTES} (use a smaller forEach.itemsPerBatch)`,
    );
  await countByShard(deps.counters, task.taskId, inv.run, step.id, indexes, 'succeeded');
  return { results: outcomes };
}

/**
 * The step's upstream results and their artifacts' records, read once per task, run and step by
 * each warm item runner (the batches of one step all see the same: its dependencies succeeded
 * before it started, and a success is not replaced within a run). Presigned URLs are made per batch.
 */
type Upstream = {
  upstream: UpstreamResult[];
  stored: { ref: ArtifactRef; s3Key: string; contentType: string; name: string }[];
};
/** By store (one per warm function; each test's own), then by task, run and step. */
const upstreamCaches = new WeakMap<object, Map<string, Promise<Upstream>>>();
function upstreamOf(
  store: ItemRunnerDeps['store'],
  taskId: string,
  run: number,
  step: PlanStep,
  plan: Plan,
): Promise<Upstream> {
  const key = `${taskId}#${run}#${step.id}`;
  let upstreamCache = upstreamCaches.get(store);
  if (!upstreamCache) {
    upstreamCache = new Map();
    upstreamCaches.set(store, upstreamCache);
  }
  const cache = upstreamCache;
  const kept = cache.get(key);
  if (kept) return kept;
  const got = (async () => {
    const results = await store.getResults(taskId, step.dependsOn);
    const upstream = upstreamResults(step, plan, results);
    const refs = upstream.flatMap((u) => u.artifacts);
    const records = await store.getArtifacts(
      taskId,
      refs.map((r) => r.id),
    );
    const stored = refs.map((ref) => {
      const rec = records.get(ref.id);
      if (!rec) throw new ContractViolationError(`Upstream artifact ${ref.id} has no record`);
      return { ref, s3Key: rec.s3Key, contentType: rec.contentType, name: rec.name };
    });
    return { upstream, stored };
  })();
  got.catch(() => cache.delete(key));
  if (cache.size >= 200) cache.delete(cache.keys().next().value as string);
  cache.set(key, got);
  return got;
}

/**
 * The batch's failure as Step Functions sees it: one item's error as it is; several items' as the
 * error of the first (its name decides the retry) with every failed item in the message.
 */
function batchError(failures: { index: number; err: unknown }[]): Error {
  const first = failures[0] as { index: number; err: unknown };
  const asError = (e: unknown) => (e instanceof Error ? e : new BatonError(String(e)));
  const err = asError(first.err);
  if (failures.length === 1) {
    err.message = `item ${first.index}: ${err.message}`;
    return err;
  }
  err.message = failures
    .map((f) => `item ${f.index}: ${asError(f.err).message}`)
    .join('; ')
    .slice(0, 4000);
  return err;
}
