/**
 * Plan validation: unique ids, known dependencies, no cycles (the cycle is reported), known
 * agents, the step limit. A valid plan comes back with defaults applied and its steps in a
 * topological order (Map items are fed in this order so no concurrency limit can deadlock).
 */

import { HISTORY_QUOTA, planHistoryEvents } from './bounds.js';
import { type ProblemIssue, ValidationError } from './errors.js';
import { datasetNames, findDataset, itemsDependency, parseItemsRef } from './fanout.js';
import {
  type Json,
  LIMITS,
  type Plan,
  type PlanSpec,
  type PlanStep,
  type Policy,
  type StepSpec,
} from './schemas.js';

export interface PlanValidationOptions {
  knownAgents: ReadonlySet<string>;
  source: string;
  rationale?: string;
  /** The task's policy: its gates, escalation and reviews count in the history worst case. Default {}. */
  policy?: Policy;
  /**
   * The task's inputs: a fan-out step's `inputs.datasets.<name>` must name one of them. Without
   * them (a caller that has none) that check is left to the step's PrepareItems.
   */
  inputs?: Record<string, Json>;
}

/**
 * The plan's worst case against the Standard execution history quota (lambdas/core/bounds.ts):
 * an issue with the numbers when the plan could exceed it, else undefined.
 */
export function historyIssue(steps: readonly PlanStep[], policy: Policy = {}): ProblemIssue | undefined {
  const events = planHistoryEvents(steps, policy);
  if (events <= HISTORY_QUOTA) return undefined;
  const perStep = Math.round(events / Math.max(1, steps.length));
  return {
    path: 'plan.steps',
    message:
      `the plan's worst case is ${events} execution history events (${steps.length} steps, ~${perStep} each with every ` +
      `retry, fallback, approval and review), over the Standard workflow quota of ${HISTORY_QUOTA}; ` +
      'use fewer steps, fewer retry.maxAttempts, or split the task',
  };
}

/**
 * The problems of fan-out steps (`forEach`): a dataset that the inputs do not have, a step
 * reference that is not a step of the plan (or the step itself), a fallback agent (a fan-out
 * step retries per item and has no fallback).
 */
export function forEachIssues(spec: PlanSpec, inputs?: Record<string, Json>): ProblemIssue[] {
  const ids = new Set(spec.steps.map((s) => s.id));
  const issues: ProblemIssue[] = [];
  spec.steps.forEach((step, i) => {
    if (!step.forEach) return;
    const path = `plan.steps[${i}].forEach.items`;
    const source = parseItemsRef(step.forEach.items);
    if (source.kind === 'dataset' && inputs && !findDataset(inputs, source.name)) {
      const names = datasetNames(inputs);
      issues.push({
        path,
        message: `inputs.datasets has no dataset "${source.name}"${names.length ? ` (datasets: ${names.join(', ')})` : ' (the task has no inputs.datasets)'}`,
      });
    }
    const dep = itemsDependency(step.forEach.items);
    if (dep === step.id)
      issues.push({ path, message: `step "${step.id}" cannot fan out over its own results` });
    else if (dep !== undefined && !ids.has(dep))
      issues.push({ path, message: `"${dep}" is not a step of this plan` });
    if (step.fallbackAgent)
      issues.push({
        path: `plan.steps[${i}].fallbackAgent`,
        message: 'a fan-out step (forEach) has no fallback agent: its retry applies to each item',
      });
  });
  return issues;
}

/** Returns the problems of a plan; an empty list means it is valid. */
export function planIssues(
  spec: PlanSpec,
  knownAgents: ReadonlySet<string>,
  inputs?: Record<string, Json>,
): ProblemIssue[] {
  const issues: ProblemIssue[] = [];
  if (spec.steps.length > LIMITS.maxSteps) {
    issues.push({
      path: 'plan.steps',
      message: `a plan has at most ${LIMITS.maxSteps} steps, got ${spec.steps.length}`,
    });
  }
  const ids = new Map<string, number>();
  spec.steps.forEach((step, i) => {
    const first = ids.get(step.id);
    if (first !== undefined) {
      issues.push({
        path: `plan.steps[${i}].id`,
        message: `duplicate step id "${step.id}" (also plan.steps[${first}])`,
      });
    } else {
      ids.set(step.id, i);
    }
  });
  const agents = [...knownAgents].sort().join(', ');
  spec.steps.forEach((step, i) => {
    if (!knownAgents.has(step.agent)) {
      issues.push({
        path: `plan.steps[${i}].agent`,
        message: `unknown agent "${step.agent}"; known agents: ${agents}`,
      });
    }
    if (step.fallbackAgent && !knownAgents.has(step.fallbackAgent)) {
      issues.push({
        path: `plan.steps[${i}].fallbackAgent`,
        message: `unknown agent "${step.fallbackAgent}"; known agents: ${agents}`,
      });
    }
    (step.dependsOn ?? []).forEach((dep, j) => {
      if (dep === step.id) {
        issues.push({
          path: `plan.steps[${i}].dependsOn[${j}]`,
          message: `step "${step.id}" depends on itself`,
        });
      } else if (!ids.has(dep)) {
        issues.push({
          path: `plan.steps[${i}].dependsOn[${j}]`,
          message: `"${dep}" is not a step of this plan`,
        });
      }
    });
  });
  issues.push(...forEachIssues(spec, inputs));
  if (issues.length === 0) {
    const cycle = findCycle(spec.steps.map(withItemsDependency));
    if (cycle)
      issues.push({ path: 'plan.steps', message: `the plan has a cycle: ${cycle.join(' depends on ')}` });
  }
  return issues;
}

/** Validates and normalizes a plan, or throws a ValidationError listing every problem. */
export function validatePlan(spec: PlanSpec, options: PlanValidationOptions): Plan {
  const issues = planIssues(spec, options.knownAgents, options.inputs);
  if (issues.length > 0) {
    throw new ValidationError(`The plan is not valid: ${issues.map((i) => i.message).join('; ')}`, issues);
  }
  const steps = topologicalOrder(spec.steps.map(withItemsDependency)).map(normalizeStep);
  const tooLong = historyIssue(steps, options.policy);
  if (tooLong) throw new ValidationError(`The plan is not valid: ${tooLong.message}`, [tooLong]);
  return { steps, source: options.source, rationale: options.rationale };
}

/**
 * A fan-out step over an upstream step's output or artifact depends on that step: the reference
 * adds it to `dependsOn` (implicitly; listing it too is fine).
 */
export function withItemsDependency(step: StepSpec): StepSpec {
  const dep = step.forEach ? itemsDependency(step.forEach.items) : undefined;
  if (dep === undefined || step.dependsOn?.includes(dep)) return step;
  return { ...step, dependsOn: [...(step.dependsOn ?? []), dep] };
}

export function normalizeStep(step: StepSpec): PlanStep {
  const forEach = step.forEach;
  return {
    id: step.id,
    agent: step.agent,
    input: step.input ?? {},
    dependsOn: [...new Set(withItemsDependency(step).dependsOn ?? [])],
    timeoutSeconds: step.timeoutSeconds ?? LIMITS.defaultStepTimeoutSeconds,
    retry: {
      maxAttempts: step.retry?.maxAttempts ?? LIMITS.defaultMaxAttempts,
      intervalSeconds: step.retry?.intervalSeconds ?? LIMITS.defaultIntervalSeconds,
      backoffRate: step.retry?.backoffRate ?? LIMITS.defaultBackoffRate,
    },
    fallbackAgent: step.fallbackAgent,
    approval: step.approval ?? 'none',
    approvalTimeoutSeconds: step.approvalTimeoutSeconds,
    optional: step.optional ?? false,
    ...(forEach
      ? {
          forEach: {
            items: forEach.items,
            maxConcurrency: forEach.maxConcurrency ?? LIMITS.defaultFanOutConcurrency,
            itemsPerBatch: forEach.itemsPerBatch ?? 1,
            toleratedFailurePercentage: forEach.toleratedFailurePercentage ?? 0,
          },
        }
      : {}),
  };
}

/** Kahn's algorithm, stable: among ready steps the one listed first goes first. */
export function topologicalOrder<T extends { id: string; dependsOn?: string[] }>(steps: readonly T[]): T[] {
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const s of steps) {
    indegree.set(s.id, new Set(s.dependsOn ?? []).size);
    for (const d of new Set(s.dependsOn ?? [])) dependents.set(d, [...(dependents.get(d) ?? []), s.id]);
  }
  const byId = new Map(steps.map((s) => [s.id, s]));
  const position = new Map(steps.map((s, i) => [s.id, i]));
  const ready = steps.filter((s) => indegree.get(s.id) === 0).map((s) => s.id);
  const out: T[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0));
    const id = ready.shift() as string;
    out.push(byId.get(id) as T);
    for (const dep of dependents.get(id) ?? []) {
      const left = (indegree.get(dep) ?? 0) - 1;
      indegree.set(dep, left);
      if (left === 0) ready.push(dep);
    }
  }
  if (out.length !== steps.length) throw new ValidationError('the plan has a cycle');
  return out;
}

/** Returns one cycle as a list of step ids (first id repeated at the end), or undefined. */
export function findCycle(steps: readonly { id: string; dependsOn?: string[] }[]): string[] | undefined {
  const deps = new Map(steps.map((s) => [s.id, s.dependsOn ?? []]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      if (!deps.has(d)) continue;
      if (state.get(d) === 'visiting') return [...stack.slice(stack.indexOf(d)), d];
      if (!state.has(d)) {
        const found = visit(d);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const s of steps) {
    if (!state.has(s.id)) {
      const found = visit(s.id);
      if (found) return found;
    }
  }
  return undefined;
}

/** Steps that (transitively) depend on `stepId`. */
export function transitiveDependents(steps: readonly PlanStep[], stepId: string): string[] {
  const out = new Set<string>();
  const frontier = [stepId];
  while (frontier.length > 0) {
    const cur = frontier.pop() as string;
    for (const s of steps) {
      if (s.dependsOn.includes(cur) && !out.has(s.id)) {
        out.add(s.id);
        frontier.push(s.id);
      }
    }
  }
  return [...out];
}

/** Length of the longest path when each step takes `duration(step)`: the ideal makespan. */
export function criticalPath(steps: readonly PlanStep[], duration: (s: PlanStep) => number): number {
  const finish = new Map<string, number>();
  for (const s of topologicalOrder(steps)) {
    const start = Math.max(0, ...s.dependsOn.map((d) => finish.get(d) ?? 0));
    finish.set(s.id, start + duration(s));
  }
  return Math.max(0, ...finish.values());
}
