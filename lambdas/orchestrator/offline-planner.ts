/**
 * The deterministic planner used when no model is configured. It is honest about it: the
 * plan's rationale says it was made by rules, not by a model.
 */
import type { PlanSpec } from '../core/schemas.js';

export interface PlannerResult {
  spec: PlanSpec;
  rationale: string;
}

/**
 * Splits a multi-part goal ("X and Y; then Z") into research steps that run in parallel, and
 * adds a writing step that composes their results.
 */
export function planFromGoal(goal: string, knownAgents: ReadonlySet<string>): PlannerResult {
  const parts = goal
    .split(/;|\band then\b|\bthen\b|\band\b|\n/i)
    .map((p) => p.trim())
    .filter((p) => p.length > 2)
    .slice(0, 8);
  const topics = parts.length > 0 ? parts : [goal.trim()];
  const research = topics.map((topic, i) => ({
    id: topics.length === 1 ? 'research' : `research-${i + 1}`,
    agent: knownAgents.has('research') ? 'research' : [...knownAgents][0] ?? 'research',
    input: { topic },
  }));
  const steps: PlanSpec['steps'] = [
    ...research,
    { id: 'write', agent: 'writing', input: { title: goal.slice(0, 120) }, dependsOn: research.map((r) => r.id) },
  ];
  return {
    spec: { steps },
    rationale: `Deterministic rule-based plan (no model configured): ${research.length} research step(s) in parallel, then one writing step.`,
  };
}
