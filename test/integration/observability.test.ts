/**
 * Observability end to end through the local runtime: one task's log lines, from the API through
 * the intake queue and the execution into the step runner and the agent functions, carry ONE
 * trace id (the task's), and each line the scope of what it worked on (taskId, run, stepId,
 * attempt). The functions' EMF metrics for the task are on the same stdout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FunctionLine, type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** A trace header as a client (or a load balancer in front of it) sends it. */
const CLIENT_TRACE = '1-67a1b2c3-0123456789abcdef01234567';

describe("one task's log lines", () => {
  let taskId: string;
  let traceId: string;
  let lines: FunctionLine[];

  beforeAll(async () => {
    // Prepare: a two-step plan of built-in agents (search tool and offline model calls).
    const res = await h.api(
      'POST',
      '/tasks',
      {
        goal: 'Brief on solar power',
        inputs: {
          documents: [{ title: 'Solar', text: 'Solar panels are cheap now. Solar output peaks at noon.' }],
        },
        plan: {
          steps: [
            { id: 'a', agent: 'research', input: { topic: 'solar power' } },
            { id: 'b', agent: 'writing', input: { title: 'Solar brief' }, dependsOn: ['a'] },
          ],
        },
      },
      { 'x-amzn-trace-id': `Root=${CLIENT_TRACE};Parent=53995c3f42cd8ad8;Sampled=1` },
    );
    expect(res.status).toBe(202);
    taskId = String(res.body.taskId);
    // Act: the task runs to its end.
    const view = await h.waitFor(taskId, ['SUCCEEDED', 'DEGRADED', 'FAILED']);
    expect(view.status).toBe('SUCCEEDED');
    traceId = view.traceId;
    // The last lines of the Finalize invocation may still be on their way through the pipe.
    for (
      let i = 0;
      i < 50 &&
      !h
        .functionLines()
        .some((l) => l.fn.startsWith('Finalize') && l.message === 'handled' && l.taskId === taskId);
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    lines = h.functionLines().filter((l) => l.taskId === taskId);
  });

  it("takes the request's trace as the task's trace id, and starts the execution in it", async () => {
    expect(traceId).toBe(CLIENT_TRACE);
    const started = (await h.events(taskId)).find((e) => e.type === 'ExecutionStarted');
    const execution = await h.rt.stepFunctions.handle('DescribeExecution', {
      executionArn: started?.data.executionArn,
    });
    expect(String(execution.traceHeader)).toMatch(new RegExp(`^Root=${CLIENT_TRACE}(;|$)`));
    expect(JSON.parse(String(execution.input))).toEqual({ taskId, run: 1, traceId });
  });

  it('names that one trace id on every line, from the API to the agents', () => {
    // Assess: every function of the task's path logged for it, and no line names another trace.
    const functions = new Set(lines.map((l) => l.fn.replace(/[0-9A-F]{8}$/, '')));
    for (const fn of ['Api', 'IntakeWorker', 'Planner', 'Gate', 'StepRunner', 'Finalize'])
      expect(
        [...functions].some((f) => f.startsWith(fn)),
        `${fn} logged for the task`,
      ).toBe(true);
    expect(
      [...functions].some((f) => /^Agent-?research/i.test(f)),
      'the research agent logged',
    ).toBe(true);
    expect(
      [...functions].some((f) => /^Agent-?writing/i.test(f)),
      'the writing agent logged',
    ).toBe(true);
    expect(new Set(lines.map((l) => l.traceId))).toEqual(new Set([traceId]));
  });

  it('gives the run on every line of the execution, and step and attempt on the step lines', () => {
    const executionLines = lines.filter((l) => !l.fn.startsWith('Api'));
    expect(executionLines.every((l) => l.run === 1)).toBe(true);
    const stepLines = lines.filter((l) => /^(StepRunner|Agent)/.test(l.fn));
    expect(stepLines.length).toBeGreaterThan(0);
    for (const l of stepLines) {
      expect(['a', 'b']).toContain(l.stepId);
      expect(l.attempt).toBe(1);
    }
  });

  it('writes EMF metrics of the task: its outcome, and step durations and attempts by agent', () => {
    const emf = h.functionLines().filter((l) => typeof l._aws === 'object');
    const named = (name: string) => emf.filter((l) => name in l);
    expect(named('TasksCompleted').some((l) => l.outcome === 'SUCCEEDED')).toBe(true);
    expect(new Set(named('StepDuration').map((l) => l.agent))).toEqual(new Set(['research', 'writing']));
    expect(new Set(named('StepAttempts').map((l) => l.agent))).toEqual(new Set(['research', 'writing']));
  });
});
