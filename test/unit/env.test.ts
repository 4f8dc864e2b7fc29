/** Function environments (lambdas/core/env.ts): a missing or malformed variable fails at once, by name. */
import { describe, expect, it } from 'vitest';
import {
  AgentEnv,
  EnvironmentError,
  FinalizeEnv,
  PlannerEnv,
  parseEnv,
  RequestApprovalEnv,
  RunnerEnv,
} from '../../lambdas/core/env.js';
import { ErrorNames } from '../../lambdas/core/errors.js';

const orchestrator = {
  TABLE_NAME: 'baton-table',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:111111111111:stateMachine:Baton-workflow',
};

/** The error parseEnv throws for `env`. */
function failure(run: () => unknown): EnvironmentError {
  try {
    run();
  } catch (err) {
    if (err instanceof EnvironmentError) return err;
    throw err;
  }
  throw new Error('parseEnv accepted the environment');
}

describe('parseEnv', () => {
  it('names a missing variable', () => {
    // Prepare
    const env = { STATE_MACHINE_ARN: orchestrator.STATE_MACHINE_ARN };
    // Act
    const err = failure(() => parseEnv(FinalizeEnv, 'the finalize function', env));
    // Assess
    expect(err.name).toBe(ErrorNames.InvalidEnvironment);
    expect(err.issues).toEqual(['TABLE_NAME is not set', 'DEAD_LETTER_QUEUE_URL is not set']);
    expect(err.message).toMatch(
      /^The environment of the finalize function is invalid: TABLE_NAME is not set;/,
    );
  });

  it('names a malformed variable and says what is wrong with it', () => {
    // Prepare
    const env = {
      ...orchestrator,
      BATON_AGENT_NAMES: 'research',
      BATON_AGENT_FUNCTION_PREFIX: '',
      BATON_MODEL_CONFIG: 'bedrock',
    };
    // Act
    const err = failure(() => parseEnv(PlannerEnv, 'the planner function', env));
    // Assess
    expect(err.issues).toEqual(['BATON_AGENT_FUNCTION_PREFIX is empty', 'BATON_MODEL_CONFIG is not JSON']);
  });

  it('takes a blank optional JSON variable for unset, as its reader does', () => {
    // Prepare
    const env = { BATON_AGENT_SETTINGS: '{}', BATON_MODEL_CONFIG: ' ' };
    // Act
    const read = parseEnv(AgentEnv, 'an agent function', env);
    // Assess
    expect(read.BATON_MODEL_CONFIG).toBe(' ');
  });

  it('rejects an empty value and a public URL that is not a URL', () => {
    // Prepare
    const env = { ...orchestrator, TABLE_NAME: '', BATON_PUBLIC_URL: 'baton.example.com' };
    // Act
    const err = failure(() => parseEnv(RequestApprovalEnv, 'the requestApproval function', env));
    // Assess
    expect(err.issues).toEqual(['TABLE_NAME is empty', 'BATON_PUBLIC_URL is not a URL']);
  });

  it('reads typed values, leaves optional ones out and ignores variables of other functions', () => {
    // Prepare
    const env = {
      ...orchestrator,
      BATON_AGENT_NAMES: 'research,writing',
      BATON_AGENT_FUNCTION_PREFIX: 'Baton-',
      AWS_REGION: 'eu-west-1',
      DEAD_LETTER_QUEUE_URL: 'https://sqs.example/dlq',
    };
    // Act
    const read = parseEnv(PlannerEnv, 'the planner function', env);
    // Assess
    // (the planner answers task tokens and is not given the state machine's ARN)
    expect(read).toEqual({
      TABLE_NAME: orchestrator.TABLE_NAME,
      BATON_AGENT_NAMES: 'research,writing',
      BATON_AGENT_FUNCTION_PREFIX: 'Baton-',
    });
  });

  it('reads process.env by default', () => {
    // Prepare
    const saved = { ...process.env };
    Object.assign(process.env, { TABLE_NAME: 't', ARTIFACT_BUCKET: 'b' });
    try {
      // Act
      const read = parseEnv(RunnerEnv, 'the step runner');
      // Assess
      expect([read.TABLE_NAME, read.ARTIFACT_BUCKET]).toEqual(['t', 'b']);
    } finally {
      for (const k of ['TABLE_NAME', 'ARTIFACT_BUCKET']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
