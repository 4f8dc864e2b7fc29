/**
 * Baton's business metrics as a fold over the events the functions write: every metric of the
 * `Baton` namespace that an event implies is computed here (pure), and published as EMF by the
 * store decorator in lambdas/shared/observability.ts only when the event was newly written, so a
 * retried Lambda or a duplicated message counts nothing twice.
 *
 * | metric | unit | dimensions | from |
 * |---|---|---|---|
 * | TasksCompleted | Count | outcome (SUCCEEDED, DEGRADED, FAILED, CANCELLED) | TaskSucceeded, TaskDegraded, TaskFailed, TaskCancelled |
 * | StepAttempts | Count | agent | StepSucceeded (the attempts the step took) |
 * | ApprovalWait | Seconds | kind | ApprovalDecided (decided at - requested at) |
 * | InputTokens, OutputTokens | Count | agent, model | ModelCalled |
 * | EstimatedCost | None (USD) | agent, model | ModelCalled, priced by lambdas/models/pricing.ts |
 * | DeadLetters | Count | - | DeadLetterRecorded |
 *
 * StepDuration (the step runner, per attempt) and ApprovalsNearExpiry (the sweeper) are not
 * events: their publishers say so where they are.
 */
import type { NewEvent } from './events.js';
import type { MetricPoint } from './telemetry.js';

/** USD per model call from its token usage; undefined when the model's price is unknown. */
export type CostEstimator = (model: string, inputTokens: number, outputTokens: number) => number | undefined;

const OUTCOME: Partial<Record<NewEvent['type'], string>> = {
  TaskSucceeded: 'SUCCEEDED',
  TaskDegraded: 'DEGRADED',
  TaskFailed: 'FAILED',
  TaskCancelled: 'CANCELLED',
};

/**
 * Computes the metric points of events as one function writes them. It keeps what later events
 * need and do not carry themselves, learnt from the events it sees in the same container: a
 * step's agent (StepStarted, StepSucceeded; ModelCalled names only the model) and an approval's
 * request time (ApprovalRequested is recorded again, as a no-op, right before its decision).
 */
export class EventMeter {
  private readonly agents = new Map<string, string>();
  private readonly requestedAt = new Map<string, string>();

  constructor(private readonly cost: CostEstimator = () => undefined) {}

  /** The points `event` implies; `written`: the store wrote it now (false: a duplicate). */
  observe(event: NewEvent, written: boolean): MetricPoint[] {
    this.learn(event);
    return written ? this.points(event) : [];
  }

  private learn(e: NewEvent): void {
    if ((e.type === 'StepStarted' || e.type === 'StepSucceeded') && e.stepId)
      this.remember(this.agents, `${e.taskId}/${e.stepId}`, e.data.agent);
    if (e.type === 'StepFallbackStarted' && e.stepId)
      this.remember(this.agents, `${e.taskId}/${e.stepId}`, e.data.fallbackAgent);
    if (e.type === 'ApprovalRequested')
      this.remember(this.requestedAt, e.data.approvalId, e.data.requestedAt);
  }

  /** Bounded: a warm container serves many tasks. */
  private remember(map: Map<string, string>, key: string, value: string): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > 1000) map.delete(map.keys().next().value as string);
  }

  private points(e: NewEvent): MetricPoint[] {
    const outcome = OUTCOME[e.type];
    if (outcome) return [{ name: 'TasksCompleted', unit: 'Count', value: 1, dimensions: { outcome } }];
    switch (e.type) {
      case 'StepSucceeded':
        return [
          { name: 'StepAttempts', unit: 'Count', value: e.data.attempt, dimensions: { agent: e.data.agent } },
        ];
      case 'DeadLetterRecorded':
        return [{ name: 'DeadLetters', unit: 'Count', value: 1, dimensions: {} }];
      case 'ApprovalDecided': {
        const requested = this.requestedAt.get(e.data.approvalId);
        const waited = requested ? (Date.parse(e.data.at) - Date.parse(requested)) / 1000 : Number.NaN;
        if (!Number.isFinite(waited)) return [];
        return [
          {
            name: 'ApprovalWait',
            unit: 'Seconds',
            value: Math.max(0, waited),
            dimensions: { kind: e.data.kind },
          },
        ];
      }
      case 'ModelCalled': {
        const agent =
          (e.stepId && this.agents.get(`${e.taskId}/${e.stepId}`)) || (e.stepId ? 'unknown' : 'planner');
        const dimensions = { agent, model: e.data.model };
        const { inputTokens, outputTokens } = e.data.usage;
        const usd = this.cost(e.data.model, inputTokens, outputTokens);
        return [
          { name: 'InputTokens', unit: 'Count', value: inputTokens, dimensions },
          { name: 'OutputTokens', unit: 'Count', value: outputTokens, dimensions },
          ...(usd === undefined
            ? []
            : [{ name: 'EstimatedCost', unit: 'None' as const, value: usd, dimensions }]),
        ];
      }
      default:
        return [];
    }
  }
}
