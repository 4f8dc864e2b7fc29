/**
 * The step runner: the trusted function RunAgent and RunFallback invoke. It does every read and
 * write of an agent attempt, so that the agent function (untrusted: web pages, MCP servers and
 * model output drive it) needs no AWS permission at all:
 * - reads the task, plan, inputs and upstream results, records StepStarted;
 * - invokes the step's agent function synchronously with the hydrated input, presigned GETs of
 *   exactly its upstream artifacts and presigned PUTs of its own upload slots (protocol.ts);
 * - checks the answer before it writes any of it: the generic output contract, artifact names
 *   unique, base64 strict, each size and sha256 computed here (uploads read back), audit records
 *   rebuilt as this attempt's own ToolCalled / ModelCalled events;
 * - writes the artifacts and completes the step (their events, StepSucceeded and the result).
 * A failed attempt is thrown with the agent's error name when it is one an agent may give
 * (AgentFailed, NonRetryable, ContractViolation); any other name becomes AgentFailed.
 */
import type { ArtifactStore } from '../adapters/artifacts.js';
import {
  AgentFailedError,
  BatonError,
  CancelledError,
  ContractViolationError,
  ErrorNames,
  NonRetryableError,
} from '../core/errors.js';
import { type CallSite, Events, type NewEvent } from '../core/events.js';
import { eventId } from '../core/ids.js';
import type {
  ArtifactPort,
  AttemptRecord,
  EventPort,
  ResultPort,
  StepResult,
  StoredArtifact,
  TaskPort,
} from '../core/ports.js';
import { AgentInput, type ArtifactRef, type Json, LIMITS, type UpstreamResult } from '../core/schemas.js';
import { AgentContract, type AgentInvocation, type AgentResult, type CarriedStart } from '../core/states.js';
import { EVENT_SETTLE_MS } from '../core/trail.js';
import { carriedStarts, dependentsOf, readyInLook } from '../orchestrator/gate.js';
import type { CompletionKnown } from '../orchestrator/steps.js';
import { tokensUsedByTask } from './audit.js';
import { policyTokenBudget } from './context.js';
import { checkAgentOutput } from './define.js';
import {
  type AgentRequest,
  AgentResponse,
  AuditRecord,
  MAX_AUDIT_RECORD_BYTES,
  UPLOAD_SLOTS,
  URL_GRACE_SECONDS,
  uploadKey,
} from './protocol.js';

/** The agent function's invocation failed (a Lambda function error: crash, timeout, bad answer). */
export class AgentInvocationError extends BatonError {
  readonly errorType: string;
  constructor(errorType: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.AgentFailed;
    this.errorType = errorType;
  }
}

export interface RunnerDeps {
  /** Data plane only: the runner reaches no task tokens, approvals or idempotency keys. */
  store: TaskPort & EventPort & ResultPort & ArtifactPort;
  artifacts: Pick<ArtifactStore, 'put' | 'downloadUrl' | 'uploadUrls' | 'adopt'>;
  /**
   * Invokes the agent function synchronously and returns what it answered (unchecked); a function
   * error (it threw, crashed or timed out) is an AgentInvocationError.
   */
  invokeAgent(functionName: string, request: AgentRequest): Promise<unknown>;
  /**
   * Completes the step from what the attempt produced (lambdas/orchestrator/steps.ts completeStep:
   * the step's StepSucceeded and result, its dependents' gates released). Idempotent. The runner
   * does it as part of the attempt, so a step's happy path is one state (RunAgent), not two.
   */
  complete(
    req: { taskId: string; run: number; stepId: string; attempt: number },
    /** What the runner holds already (the task as it read it, the plan, what the attempt produced). */
    known?: CompletionKnown,
  ): Promise<void>;
  log?: (line: Record<string, unknown>) => void;
}

/** The error names an agent's answer may carry through to Step Functions' ErrorEquals. */
const AGENT_ERROR_NAMES: ReadonlySet<string> = new Set([
  ErrorNames.AgentFailed,
  ErrorNames.NonRetryable,
  ErrorNames.ContractViolation,
]);

/** The keys one BatchGetItem reads: a runner's look ahead at its dependents' gates fits in it or is not made. */
const LOOK_AHEAD_KEYS = 100;

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The StepStarted number the step's releaser carried (GateRelease.started), if this is a primary
 * run and the number is young enough that readers still wait for it (lambdas/core/trail.ts:
 * within half the settle time), so that no reader has paged past it.
 */
function carriedStart(inv: AgentInvocation): CarriedStart | undefined {
  const started = inv.failure ? undefined : inv.gate?.started;
  if (!started) return undefined;
  const age = Date.now() - Date.parse(started.at);
  return Math.abs(age) < EVENT_SETTLE_MS / 2 ? started : undefined;
}

/** Runs one attempt of one step on its agent function (RunAgent / RunFallback). */
export async function runStep(deps: RunnerDeps, raw: unknown): Promise<AgentResult> {
  const inv = AgentContract.input.parse(raw);
  const { store } = deps;
  // The plan first: it is immutable, so a warm instance has it without a call. Then one read
  // (getStepContext): the task record, this step's own result, its dependencies' (only those:
  // O(dependencies)), its StepSucceeded of this run and, unless held already, the task's inputs.
  // Beside them, what the completion needs to release the step's dependents: their gates' tokens
  // and their dependencies' results (a look before the agent runs: the gates found ready then are
  // not read again when it ends), as long as all of it fits the one read.
  const plan = await store.getPlan(inv.taskId);
  const step = plan?.steps.find((s) => s.id === inv.stepId);
  const dependents = plan && step ? dependentsOf(plan, step.id) : [];
  const ahead = [...new Set(dependents.flatMap((d) => [d.id, ...d.dependsOn]))];
  const own = step ? [step.id, ...step.dependsOn] : [];
  // A StepStarted number the releaser carried (in time: see EVENT_SETTLE_MS) is looked at with
  // the step's StepWaiting and its attempt before (recordStart).
  const carried = carriedStart(inv);
  // The read's keys: the results, the dependents' tokens, META, INPUTS, the StepSucceeded (and
  // the StepWaiting and an earlier StepStarted for a carried number).
  const lookAhead =
    new Set([...own, ...ahead]).size + dependents.length + 3 + (carried ? 2 : 0) <= LOOK_AHEAD_KEYS;
  const { task, inputs, results, succeeded, gates, start } = step
    ? await store.getStepContext(inv.taskId, lookAhead ? [...own, ...ahead] : own, {
        run: inv.run,
        stepId: step.id,
        ...(lookAhead ? { gates: dependents.map((d) => d.id) } : {}),
        ...(carried ? { start: { attempt: inv.attempt } } : {}),
      })
    : {
        task: undefined,
        inputs: {},
        results: new Map<string, StepResult>(),
        succeeded: undefined,
        gates: new Map(),
        start: undefined,
      };
  if (!task || !plan || !step) {
    throw new ContractViolationError(`Step ${inv.stepId} of task ${inv.taskId} does not exist`);
  }
  const agentName = inv.failure ? step.fallbackAgent : step.agent;
  if (!agentName) throw new ContractViolationError(`Step ${step.id} has no fallback agent`);
  const completion = { taskId: task.taskId, run: inv.run, stepId: step.id, attempt: inv.attempt };
  if (results.get(step.id)?.status === 'SUCCEEDED' || succeeded) {
    // Done before: the step's result or its StepSucceeded was written and the runner (or its
    // execution) stopped before the completion ended. Complete again from what was written
    // (idempotent: the events and the result are written once, in their numbered place, the
    // dependents' gates released if they were not); the agent does not run again.
    await deps.complete(
      completion,
      succeeded ? { ctx: { task, plan, run: inv.run }, attempt: succeeded } : undefined,
    );
    return { stepId: step.id, attempt: inv.attempt, agent: agentName, alreadyDone: true };
  }
  if (task.status === 'CANCELLED') throw cancelled(task.taskId, step.id);
  const scope = {
    taskId: task.taskId,
    traceId: task.traceId,
    run: inv.run,
    stepId: step.id,
    attempt: inv.attempt,
  };
  const upstream = upstreamResults(step, plan, results);
  const refs = upstream.flatMap((u) => u.artifacts);
  // The start in the trail is written while the rest of the attempt goes on (the inputs, the
  // upstream artifacts' records, the agent itself): it only has to be in the trail before
  // anything else of this attempt is, so it is awaited before the attempt writes its first
  // event, and before the runner gives up on a failed agent (StepFailed then writes after it).
  // A carried number is used only where it cannot misorder the trail: after the step's StepWaiting
  // (the gate may still be writing it when its releaser reserves), for the iteration's first
  // attempt (no StepStarted of the attempt before in this run). Otherwise it stays a gap.
  const startSeq =
    carried && start?.waitingSeq !== undefined && start.waitingSeq < carried.seq && !start.earlierAttempt
      ? carried.seq
      : undefined;
  const started = recordStart(
    store,
    scope,
    { attempt: inv.attempt, agent: agentName, run: inv.run },
    startSeq,
  ).then(
    () => undefined,
    (err: unknown) => ({ err }),
  );
  const startRecorded = async () => {
    const failed = await started;
    if (failed) throw failed.err;
  };
  let rawAnswer: unknown;
  try {
    const records = await store.getArtifacts(
      task.taskId,
      refs.map((r) => r.id),
    );
    const input = AgentInput.parse({
      taskId: task.taskId,
      stepId: step.id,
      attempt: inv.attempt,
      agent: agentName,
      goal: task.goal,
      input: step.input,
      inputs,
      upstream,
      ...(inv.failure ? { failure: inv.failure } : {}),
    });

    const expiresIn = step.timeoutSeconds + URL_GRACE_SECONDS;
    const readable = await Promise.all(
      refs.map(async (ref: ArtifactRef) => {
        const stored = records.get(ref.id);
        if (!stored) throw new ContractViolationError(`Upstream artifact ${ref.id} has no record`);
        const url = await deps.artifacts.downloadUrl(stored.s3Key, {
          contentType: stored.contentType,
          fileName: stored.name,
          expiresInSeconds: expiresIn,
        });
        return { ref, url };
      }),
    );
    const uploads = await deps.artifacts.uploadUrls(
      Array.from({ length: UPLOAD_SLOTS }, (_, slot) => uploadKey(task.taskId, step.id, inv.attempt, slot)),
      expiresIn,
    );
    const maxTokens = policyTokenBudget(task.policy);
    const request: AgentRequest = {
      protocol: 1,
      input,
      run: inv.run,
      traceId: task.traceId,
      timeoutSeconds: step.timeoutSeconds,
      ...(maxTokens !== undefined ? { taskMaxTokens: maxTokens } : {}),
      // The task's token use so far: read (the whole trail, O(events)) only under a task budget.
      taskTokensUsed:
        maxTokens === undefined
          ? 0
          : tokensUsedByTask(await store.allEvents(task.taskId), {
              run: inv.run,
              stepId: step.id,
              attempt: inv.attempt,
            }),
      readable,
      uploads,
    };

    try {
      rawAnswer = await deps.invokeAgent(inv.agentFunction, request);
    } catch (err) {
      // An answer over Lambda's 6 MB response limit is the agent's doing, and would be every time.
      if (err instanceof AgentInvocationError && err.errorType === 'Function.ResponseSizeTooLarge')
        throw new ContractViolationError(`Agent "${agentName}" answered more than a Lambda response holds`, {
          cause: err,
        });
      throw err;
    }
  } catch (err) {
    // Whatever failed, the start is in the trail before the runner gives up (StepFailed writes
    // after it); a start that could not be written is the error then.
    await startRecorded();
    throw err;
  }
  await startRecorded();
  const parsed = AgentResponse.safeParse(rawAnswer);
  if (!parsed.success) {
    throw new ContractViolationError(`Agent "${agentName}" answered outside the runner protocol`, {
      cause: parsed.error,
    });
  }
  const answer = parsed.data;
  // The audit records are written whether the attempt succeeded or not (they happened). An attempt
  // that fails its checks writes them on their own before it gives up; one that passes numbers
  // them in the completion's reservation (below), so they cost no reservation of their own.
  const audit = auditEvents(agentName, scope, answer.audit);
  const auditAlone = async () => {
    if (audit.length > 0) await store.appendEvents(audit);
  };
  let checked: ReturnType<typeof checkAnswer>;
  try {
    checked = checkAnswer(agentName, answer);
  } catch (err) {
    await auditAlone();
    throw err;
  }
  const { out, inline, artifacts } = checked;

  // Side by side: the numbers of the attempt's remaining events (its audit records, an
  // ArtifactStored per artifact, then StepSucceeded), and the artifacts' bytes (uploads read back,
  // then inline bodies stored). The numbers are reserved before anything is recorded: the events
  // and the result can then be written side by side, and a completion finished later (after a
  // crash) puts the events in the same place. The audit records are written as soon as their
  // numbers are known. The reservation also says whether the task was cancelled while its agent
  // ran: then it keeps nothing the agent made (no artifact record, no result; the numbers are
  // gaps; the bytes stay in the bucket under the attempt's keys, as a failed attempt's uploads do).
  // With them, one number each for the dependents the look before the agent found ready to run
  // plainly: their first StepStarted, sent with their release (right after this StepSucceeded).
  const lookReady = lookAhead ? readyInLook(plan, step.id, { results, gates }, inv.run) : undefined;
  const numbered = lookReady ? carriedStarts(plan, lookReady) : [];
  const reservation = store.reserveSeqs(task.taskId, audit.length + artifacts.length + 1 + numbered.length);
  const auditWritten = reservation.then(async ({ first }) => {
    if (audit.length > 0) await store.appendEvents(audit, { firstSeq: first });
  });
  auditWritten.catch(() => {}); // awaited below on every path; not an unhandled rejection meanwhile
  const [reserved, { adopted, written }] = await Promise.all([
    reservation,
    (async () => {
      const adopted = await Promise.all(
        artifacts.flatMap((a) =>
          'upload' in a
            ? [
                (async () => {
                  const s3Key = uploadKey(task.taskId, step.id, inv.attempt, a.upload);
                  const got = await deps.artifacts.adopt({
                    s3Key,
                    stepId: step.id,
                    attempt: inv.attempt,
                    name: a.name,
                    contentType: a.contentType,
                    maxBytes: LIMITS.maxArtifactBytes,
                  });
                  if (got === 'missing')
                    throw new ContractViolationError(
                      `Artifact ${a.name}: nothing was uploaded to slot ${a.upload}`,
                    );
                  if ('tooLarge' in got)
                    throw new ContractViolationError(
                      `Artifact ${a.name} is ${got.tooLarge} bytes; the limit is ${LIMITS.maxArtifactBytes}`,
                    );
                  return got;
                })(),
              ]
            : [],
        ),
      );
      const written = await Promise.all(
        inline.map(({ art, body }) =>
          deps.artifacts.put({
            taskId: task.taskId,
            stepId: step.id,
            attempt: inv.attempt,
            name: art.name,
            contentType: art.contentType,
            body,
          }),
        ),
      );
      return { adopted, written };
    })(),
  ]).catch(async (err: unknown) => {
    // An artifact that fails its read-back fails the attempt; its audit records are kept first
    // (numbered by the reservation, or on their own if that is what failed).
    await auditWritten.catch(auditAlone);
    throw err;
  });
  const { first: reservedFirst, cancelled: wasCancelled } = reserved;
  const firstSeq = reservedFirst + audit.length;
  const reservedAt = new Date().toISOString();
  const starts = new Map(
    numbered.map((id, i) => [id, { seq: firstSeq + artifacts.length + 1 + i, at: reservedAt }]),
  );
  if (wasCancelled) {
    await auditWritten;
    throw cancelled(task.taskId, step.id);
  }
  const byName = new Map<string, StoredArtifact>([...written, ...adopted].map((m) => [m.name, m]));
  const stored = artifacts.map((a) => byName.get(a.name) as StoredArtifact);
  // Each artifact's record, then the completion: their events (ArtifactStored, StepSucceeded)
  // and the step's result, written from what the attempt produced.
  const attempt: AttemptRecord = {
    stepId: step.id,
    run: inv.run,
    attempt: inv.attempt,
    agent: agentName,
    summary: out.summary,
    ...(out.output !== undefined ? { output: out.output as Json } : {}),
    artifacts: stored.map(({ s3Key: _k, attempt: _a, ...ref }) => ref),
    at: new Date().toISOString(),
    firstSeq,
  };
  // The records first (beside the audit records' write): the completion's events and result (and
  // a completion finished from them after a crash) name artifacts whose records must exist.
  await Promise.all([auditWritten, ...stored.map((meta) => store.putArtifact(task.taskId, meta))]);
  await deps.complete(completion, {
    ctx: { task, plan, run: inv.run },
    attempt,
    ...(lookReady ? { look: { ready: lookReady, starts } } : {}),
  });
  return { stepId: step.id, attempt: inv.attempt, agent: agentName };
}

/**
 * The checks of a succeeded answer before any of it is written: the agent's output contract,
 * artifact names and upload slots each used once, inline bodies decoded. A failed answer is its
 * agent's error. Throws what the attempt fails with.
 */
function checkAnswer(agentName: string, answer: AgentResponse) {
  if (!answer.ok) throw agentError(answer.error);
  const out = checkAgentOutput(agentName, {
    summary: answer.summary,
    ...(answer.output !== undefined ? { output: answer.output } : {}),
    artifacts: answer.artifacts.flatMap((a) => ('body' in a ? [a] : [])),
  });
  const names = new Set<string>();
  const slots = new Set<number>();
  for (const a of answer.artifacts) {
    if (names.has(a.name))
      throw new ContractViolationError(`Agent "${agentName}" returned artifact ${a.name} twice`);
    names.add(a.name);
    if ('upload' in a) {
      if (slots.has(a.upload))
        throw new ContractViolationError(`Agent "${agentName}" named upload slot ${a.upload} twice`);
      slots.add(a.upload);
    }
  }
  // Every artifact is checked before any is recorded: inline bodies decoded, uploads read back.
  const inline = (out.artifacts ?? []).map((art) => ({ art, body: decodeBody(agentName, art) }));
  return { out, inline, artifacts: answer.artifacts };
}

/** What a step's agent is told of its dependencies: their results (agent, summary, output, artifacts). */
export function upstreamResults(
  step: { dependsOn: readonly string[] },
  plan: { steps: readonly { id: string; agent: string }[] },
  results: ReadonlyMap<string, StepResult>,
): UpstreamResult[] {
  return step.dependsOn.map((dep) => {
    const r = results.get(dep);
    return {
      stepId: dep,
      agent: r?.agent ?? plan.steps.find((s) => s.id === dep)?.agent ?? 'unknown',
      summary: r?.summary ?? '',
      ...(r?.output !== undefined ? { output: r.output } : {}),
      artifacts: r?.artifacts ?? [],
    };
  });
}

/**
 * The attempt's StepStarted. An attempt that started before and runs again (its runner or
 * execution was interrupted and resumed) says so in the trail: one more StepStarted, numbered.
 * The first start is written without looking (numbered `seq` when given: a number its releaser
 * reserved); only when its id is taken are the earlier starts counted.
 */
async function recordStart(
  store: EventPort,
  scope: { taskId: string; traceId: string; run: number; stepId: string; attempt: number },
  started: { attempt: number; agent: string; run: number },
  seq?: number,
): Promise<void> {
  const first = Events.stepStarted(scope, started);
  const written =
    seq === undefined
      ? await store.appendEvent(first)
      : (await store.appendEvents([first], { firstSeq: seq }))[0];
  if (written) return;
  const priorStarts = (
    await store.eventsWithIdPrefix(
      scope.taskId,
      eventId({ run: scope.run, type: 'StepStarted', stepId: scope.stepId, attempt: scope.attempt }),
    )
  ).filter((e) => e.type === 'StepStarted' && e.data.attempt === scope.attempt).length;
  await store.appendEvent(Events.stepStarted(scope, { ...started, rerun: priorStarts }));
}

/** An inline body's bytes: UTF-8 text, or base64 that decodes exactly (no stray characters). */
function decodeBody(agentName: string, art: { name: string; body: string | { base64: string } }): Buffer {
  let body: Buffer;
  if (typeof art.body === 'string') body = Buffer.from(art.body, 'utf8');
  else {
    if (!STRICT_BASE64.test(art.body.base64))
      throw new ContractViolationError(
        `Agent "${agentName}" returned artifact ${art.name} with invalid base64`,
      );
    body = Buffer.from(art.body.base64, 'base64');
  }
  if (body.byteLength > LIMITS.maxArtifactBytes) {
    throw new ContractViolationError(
      `Artifact ${art.name} is ${body.byteLength} bytes; the limit is ${LIMITS.maxArtifactBytes}`,
    );
  }
  return body;
}

/**
 * The agent's audit records as this attempt's events: the runner builds each event (id, task,
 * step, attempt, trace) itself, so an agent can add call records to its own attempt only.
 */
export function auditEvents(
  agentName: string,
  /** `item`: the calls of one item of a fan-out step (item-runner.ts), its item events. */
  scope: {
    taskId: string;
    traceId: string;
    run: number;
    stepId: string;
    attempt: number;
    item?: CallSite['item'];
  },
  records: readonly unknown[],
): NewEvent[] {
  return records.map((raw, i) => {
    const parsed = AuditRecord.safeParse(raw);
    if (!parsed.success)
      throw new ContractViolationError(`Agent "${agentName}" returned audit record ${i} that is not one`, {
        cause: parsed.error,
      });
    if (JSON.stringify(parsed.data).length > MAX_AUDIT_RECORD_BYTES)
      throw new ContractViolationError(
        `Agent "${agentName}" returned audit record ${i} over ${MAX_AUDIT_RECORD_BYTES} bytes`,
      );
    const r = parsed.data;
    if (!Number.isInteger(r.data.call) || r.data.call < 1)
      throw new ContractViolationError(
        `Agent "${agentName}" returned audit record ${i} with call ${r.data.call}`,
      );
    return r.type === 'ToolCalled'
      ? Events.toolCalled(scope, { ...r.data, attempt: scope.attempt })
      : Events.modelCalled(scope, { ...r.data, attempt: scope.attempt });
  });
}

function cancelled(taskId: string, stepId: string): CancelledError {
  return new CancelledError(`Task ${taskId} was cancelled; what step ${stepId} made is discarded`);
}

/** The attempt's failure as Step Functions will see it: only the names an agent may give pass. */
export function agentError(error: { name: string; message: string }): Error {
  if (error.name === ErrorNames.NonRetryable) return new NonRetryableError(error.message);
  if (error.name === ErrorNames.ContractViolation) return new ContractViolationError(error.message);
  if (AGENT_ERROR_NAMES.has(error.name)) return new AgentFailedError(error.message);
  return new AgentFailedError(`${error.name}: ${error.message}`);
}
