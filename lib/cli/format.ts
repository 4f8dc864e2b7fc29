/**
 * What the CLI prints for people (`--json` prints the API's documents instead). Pure functions
 * of the typed client's documents; tested in test/unit/cli-format.test.ts.
 */
import type { Schemas, TaskEvent, TaskView } from '../client/index.js';

type StepView = TaskView['plan']['steps'][number];
type TaskSummary = Schemas['TaskPage']['tasks'][number];
type ArtifactRef = Schemas['ArtifactList']['artifacts'][number];
type DeadLetter = Schemas['DeadLetterList']['deadLetters'][number];
type ApprovalListing = Schemas['ApprovalList']['approvals'][number];
type ApprovalRecord = Schemas['DecisionResponse']['approval'];

export const TERMINAL = ['SUCCEEDED', 'DEGRADED', 'FAILED', 'CANCELLED'] as const;
export const isTerminal = (status: string) => (TERMINAL as readonly string[]).includes(status);

/** 850ms, 1.2s, 2m03s, 1h05m. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const between = (from?: string, to?: string) =>
  from && to ? duration(Date.parse(to) - Date.parse(from)) : '';

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Human size: 512 B, 1.5 KiB, 2.0 MiB. */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const errorText = (e?: { name: string; message: string }) => (e ? `${e.name}: ${e.message}` : '');

/** Rows as columns two spaces apart (the last column unpadded). */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** One step of a task view: `a  research  SUCCEEDED  1 attempt  1.2s  <summary or error>`. */
function stepRow(step: StepView): string[] {
  return [
    `step ${step.id}`,
    step.agent,
    step.status,
    step.attempts ? plural(step.attempts, 'attempt') : '',
    between(step.startedAt, step.endedAt),
    step.error ? errorText(step.error) : (step.summary ?? ''),
  ];
}

/** `baton status`: the task, then its steps. */
export function taskLines(view: TaskView): string[] {
  const lines = [
    `task ${view.taskId}  ${view.status}  ${between(view.createdAt, view.updatedAt)}`.trimEnd(),
    `goal  ${view.goal}`,
  ];
  if (view.plan.source) lines.push(`plan  ${plural(view.plan.steps.length, 'step')} (${view.plan.source})`);
  lines.push(...table(view.plan.steps.map(stepRow)));
  if (view.error) lines.push(`error  ${errorText(view.error)}`);
  if (view.result?.missing?.length) lines.push(`missing  ${view.result.missing.join(', ')}`);
  return lines;
}

/** Why a task did not succeed: its error and the steps that failed. */
export function failureReason(view: TaskView): string {
  const failed = view.plan.steps.filter((s) => s.status === 'FAILED');
  const parts = [`task ${view.taskId} ended ${view.status}`];
  if (view.error) parts.push(errorText(view.error));
  for (const s of failed) parts.push(`step ${s.id} failed${s.error ? `: ${errorText(s.error)}` : ''}`);
  return parts.join('; ');
}

/** `baton events`: one line per event. */
export function eventRows(events: TaskEvent[]): string[] {
  return table(events.map((e) => [String(e.seq), e.at, e.type, e.stepId ?? '', eventBrief(e)]));
}

function eventBrief(e: TaskEvent): string {
  switch (e.type) {
    case 'StepStarted':
      return `${e.data.agent} attempt ${e.data.attempt}`;
    case 'StepSucceeded':
      return e.data.summary;
    case 'StepAttemptFailed':
      return `attempt ${e.data.attempt}: ${errorText(e.data.error)}${e.data.willRetry ? ' (will retry)' : ''}`;
    case 'StepFailed':
      return `${errorText(e.data.error)}`;
    case 'StepSkipped':
      return `dependency ${e.data.failedDependency} failed`;
    case 'StepWaiting':
      return `waiting for ${e.data.waitingFor.join(', ')}`;
    case 'ApprovalRequested':
      return `${e.data.approvalId} (${e.data.kind})`;
    case 'ApprovalDecided':
      return `${e.data.approvalId} ${e.data.decision} by ${e.data.approver}${e.data.comment ? `: ${e.data.comment}` : ''}`;
    case 'TaskFailed':
    case 'TaskDegraded':
      return errorText(e.data.error);
    case 'ArtifactStored':
      return `${e.data.name} ${size(e.data.size)}`;
    case 'ToolCalled':
      return `${e.data.tool} ${e.data.outcome}`;
    case 'PlanCreated':
      return `${plural(e.data.steps.length, 'step')} (${e.data.source})`;
    default:
      return '';
  }
}

/**
 * `--follow`: turns the audit trail, event by event, into lines about step transitions:
 *   step a  research  RUNNING    attempt 1
 *   step a  research  SUCCEEDED  1 attempt  1.2s  <summary>
 */
export class Transitions {
  private readonly agents = new Map<string, string>();
  private readonly started = new Map<string, string>();
  private idWidth = 1;
  private agentWidth = 1;

  /** The lines `e` adds (often none: tool and model calls, artifacts, ...). */
  lines(e: TaskEvent): string[] {
    const step = (id: string, status: string, ...rest: string[]) =>
      [
        `step ${id.padEnd(this.idWidth)}`,
        (this.agents.get(id) ?? '').padEnd(this.agentWidth),
        status.padEnd(17),
        ...rest.filter(Boolean),
      ]
        .join('  ')
        .trimEnd();
    const id = e.stepId ?? '';
    switch (e.type) {
      case 'PlanCreated': {
        for (const s of e.data.steps) this.agents.set(s.id, s.agent);
        this.idWidth = Math.max(1, ...e.data.steps.map((s) => s.id.length));
        this.agentWidth = Math.max(1, ...e.data.steps.map((s) => s.agent.length));
        return [`plan  ${plural(e.data.steps.length, 'step')} (${e.data.source})`];
      }
      case 'StepWaiting':
        return [step(id, 'WAITING', `for ${e.data.waitingFor.join(', ')}`)];
      case 'StepStarted':
        this.agents.set(id, e.data.agent);
        this.started.set(id, e.at);
        return [step(id, 'RUNNING', `attempt ${e.data.attempt}`)];
      case 'StepAttemptFailed':
        return [
          step(
            id,
            'ATTEMPT_FAILED',
            `attempt ${e.data.attempt}`,
            errorText(e.data.error),
            e.data.willRetry
              ? `retry in ${duration((e.data.retryInSeconds ?? 0) * 1000)}`
              : e.data.willReview
                ? 'to review'
                : '',
          ),
        ];
      case 'StepFallbackStarted':
        return [step(id, 'FALLBACK', `agent ${e.data.fallbackAgent}`)];
      case 'StepSucceeded':
        return [
          step(
            id,
            'SUCCEEDED',
            plural(e.data.attempt, 'attempt'),
            between(this.started.get(id), e.at),
            e.data.summary,
          ),
        ];
      case 'StepFailed':
        return [
          step(
            id,
            'FAILED',
            plural(e.data.attempts, 'attempt'),
            between(this.started.get(id), e.at),
            errorText(e.data.error),
          ),
        ];
      case 'StepSkipped':
        return [step(id, 'SKIPPED', `dependency ${e.data.failedDependency} failed`)];
      case 'ApprovalRequested': {
        const what = e.stepId ? step(id, 'AWAITING_APPROVAL') : 'plan  AWAITING_APPROVAL';
        return [
          `${what}  approval ${e.data.approvalId} (${e.data.kind}): baton approve ${e.data.approvalId} | baton reject ${e.data.approvalId}`,
        ];
      }
      case 'ApprovalDecided':
        return [
          `approval ${e.data.approvalId} ${e.data.decision} by ${e.data.approver}${e.data.comment ? `: ${e.data.comment}` : ''}`,
        ];
      case 'TaskCancelled':
        return ['task  CANCELLED'];
      case 'TaskRedriven':
        return [`task  REDRIVEN  run ${e.data.run}`];
      default:
        return [];
    }
  }
}

export function tasksTable(tasks: TaskSummary[]): string[] {
  return table(tasks.map((t) => [t.taskId, t.status, t.createdAt, t.goal]));
}

export function artifactsTable(artifacts: ArtifactRef[]): string[] {
  return table(
    artifacts.map((a) => [a.id, a.stepId, a.name, a.contentType, size(a.size), a.sha256.slice(0, 12)]),
  );
}

export function deadLettersTable(letters: DeadLetter[]): string[] {
  return table(
    letters.map((d) => [
      d.taskId,
      `run ${d.run}`,
      d.status,
      d.at,
      d.failedSteps.length ? `failed: ${d.failedSteps.map((s) => s.stepId).join(', ')}` : '',
      errorText(d.error),
    ]),
  );
}

export function approvalsTable(approvals: ApprovalListing[]): string[] {
  return table(
    approvals.map((a) => [
      a.id,
      a.taskId,
      a.stepId ? `step ${a.stepId}` : 'plan',
      a.kind,
      `expires ${a.expiresAt}`,
    ]),
  );
}

export function decisionLine(approval: ApprovalRecord): string {
  const what = approval.stepId ? `step ${approval.stepId}` : 'the plan';
  const d = approval.decision;
  return `approval ${approval.id} (${what} of ${approval.taskId}): ${d?.decision ?? approval.status}${d ? ` by ${d.approver}` : ''}`;
}

/** A problem document (or API Gateway's `{ message }`) as lines: `400 Invalid request: …` and issues. */
export function problemLines(status: number, statusText: string, body: unknown): string[] {
  const b = (body && typeof body === 'object' ? body : {}) as {
    title?: unknown;
    detail?: unknown;
    message?: unknown;
    issues?: unknown;
  };
  const title = typeof b.title === 'string' ? b.title : statusText || 'Error';
  const detail = typeof b.detail === 'string' ? b.detail : typeof b.message === 'string' ? b.message : '';
  const lines = [`${status} ${title}${detail ? `: ${detail}` : ''}`];
  if (Array.isArray(b.issues)) {
    for (const i of b.issues as { path?: unknown; message?: unknown }[]) {
      lines.push(`  - ${String(i.path ?? '')}: ${String(i.message ?? '')}`);
    }
  }
  return lines;
}
