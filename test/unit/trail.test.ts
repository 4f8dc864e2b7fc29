/** The audit-trail checker the integration suites run on every task (test/integration/trail.ts). */
import { describe, expect, it } from 'vitest';
import type { TrailEvent } from '../integration/harness.js';
import { trailProblems } from '../integration/trail.js';

let seq = 0;
const ev = (id: string, type: string, data: Record<string, unknown> = {}, stepId?: string): TrailEvent => ({
  id,
  seq: ++seq,
  at: '2026-12-02T00:00:00.000Z',
  type,
  ...(stepId ? { stepId } : {}),
  data,
});

/** A sound one-step trail: submitted, started, planned, step a ran, succeeded. */
function sound(): TrailEvent[] {
  seq = 0;
  return [
    ev('r1.TaskSubmitted.-.-', 'TaskSubmitted'),
    ev('r1.ExecutionStarted.-.-', 'ExecutionStarted', { run: 1 }),
    ev('r1.PlanCreated.-.-', 'PlanCreated', { steps: [{ id: 'a', agent: 'echo', dependsOn: [] }] }),
    ev('r1.StepStarted.a.1', 'StepStarted', { attempt: 1, agent: 'echo', run: 1 }, 'a'),
    ev('r1.StepSucceeded.a.1', 'StepSucceeded', { attempt: 1, agent: 'echo', artifacts: [] }, 'a'),
    ev('r1.TaskSucceeded.-.-', 'TaskSucceeded'),
  ];
}

describe('the audit-trail checker', () => {
  it('finds nothing wrong with a sound trail, ended or not', () => {
    // Prepare
    const trail = sound();
    // Act / Assess
    expect(trailProblems(trail, { ended: true })).toEqual([]);
    expect(trailProblems(trail.slice(0, 4), { ended: false })).toEqual([]);
  });

  it('accepts a rerun numbered after an interruption', () => {
    const trail = sound();
    trail.splice(4, 0, ev('r1.StepStarted.a.1.rerun1', 'StepStarted', { attempt: 1, run: 1, rerun: 1 }, 'a'));
    trail.forEach((e, i) => {
      e.seq = i + 1;
    });
    expect(trailProblems(trail, { ended: true })).toEqual([]);
  });

  it('names a duplicate, a seq out of order, a missing submission and an attempt that never ended', () => {
    // Prepare
    const duplicate = [...sound(), sound()[4] as TrailEvent];
    const reordered = sound();
    (reordered[3] as TrailEvent).seq = 1;
    const headless = sound().slice(1);
    const unended = sound().filter((e) => e.type !== 'StepSucceeded');
    const unnumberedRerun = sound();
    unnumberedRerun.splice(4, 0, ev('r1.StepStarted.a.1.x', 'StepStarted', { attempt: 1, run: 1 }, 'a'));
    // Act / Assess
    expect(trailProblems(duplicate, { ended: true }).join('\n')).toMatch(
      /duplicate event r1.StepSucceeded.a.1/,
    );
    expect(trailProblems(reordered, { ended: true }).join('\n')).toMatch(/seq does not increase/);
    expect(trailProblems(headless, { ended: true })).toContain('0 TaskSubmitted events');
    const unendedProblems = trailProblems(unended, { ended: true }).join('\n');
    expect(unendedProblems).toMatch(/attempts never ended: a#1/);
    expect(unendedProblems).toMatch(/step a has no outcome/);
    expect(trailProblems(unnumberedRerun, { ended: true }).join('\n')).toMatch(/rerun 0, expected 1/);
  });

  it('names an ended task without an outcome, two outcomes, and step events after the outcome', () => {
    const noOutcome = sound().slice(0, -1);
    const twoOutcomes = [...sound(), ev('r1.TaskFailed.-.-', 'TaskFailed')];
    const late = [...sound(), ev('r1.ArtifactStored.a.1.x', 'ArtifactStored', {}, 'a')];
    expect(trailProblems(noOutcome, { ended: true })).toContain(
      'run 1: no outcome event although the task ended',
    );
    expect(trailProblems(twoOutcomes, { ended: true })).toContain('run 1: TaskSucceeded, TaskFailed');
    expect(trailProblems(late, { ended: true }).join('\n')).toMatch(/after the outcome/);
  });
});
