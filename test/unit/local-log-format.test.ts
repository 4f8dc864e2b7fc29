/**
 * How local mode shows the functions' lines on a terminal (lib/local/log-format.ts): Powertools
 * lines as `time LEVEL function message scope… rest…`, EMF documents as `metric …`, anything
 * else unchanged.
 */
import { describe, expect, it } from 'vitest';
import { prettyLogLine } from '../../lib/local/log-format.js';

describe('pretty log lines', () => {
  it('shows a Powertools line with its scope first and the Lambda context left out', () => {
    const line = JSON.stringify({
      level: 'INFO',
      message: 'handled',
      timestamp: '2026-01-01T12:34:56.789Z',
      service: 'baton',
      function_name: 'Planner1234ABCD',
      cold_start: true,
      durationMs: 12,
      traceId: '1-5759e988-bd862e3fe1be46a994272793',
      taskId: 't_1',
      run: 1,
    });
    expect(prettyLogLine(line, 'Planner1234ABCD', false)).toBe(
      '12:34:56.789 INFO  Planner1234ABCD handled taskId=t_1 run=1 traceId=1-5759e988-bd862e3fe1be46a994272793 durationMs=12',
    );
  });

  it('shows an EMF document as its metric values and dimensions', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: 1,
        CloudWatchMetrics: [
          {
            Namespace: 'Baton',
            Dimensions: [['agent']],
            Metrics: [{ Name: 'StepDuration', Unit: 'Milliseconds' }],
          },
        ],
      },
      agent: 'research',
      StepDuration: 250,
    });
    expect(prettyLogLine(line, 'StepRunner', false)).toBe(
      'metric StepRunner StepDuration=250 Milliseconds agent=research',
    );
  });

  it('leaves a line that is not a log document as it is', () => {
    expect(prettyLogLine('plain text', 'Api', false)).toBe('plain text');
    expect(prettyLogLine('[1,2]', 'Api', false)).toBe('[1,2]');
  });
});
