/** A state-machine Lambda's return value is checked against its output schema (lambdas/shared/contract.ts). */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ContractViolationError } from '../../lambdas/core/errors.js';
import { AttemptFailureDecision, Resolution } from '../../lambdas/core/states.js';
import { outputContract } from '../../lambdas/shared/contract.js';

const context = {} as Context;

describe('outputContract', () => {
  it('passes an output that keeps the contract through unchanged', async () => {
    // Prepare
    const decision = {
      retry: true,
      waitSeconds: 2,
      nextAttempt: 2,
      useFallback: false,
      fallback: null,
      review: false,
    };
    const handler = middy<unknown, unknown>()
      .use(outputContract(AttemptFailureDecision, 'The stepFailed function'))
      .handler(async () => decision);
    // Act
    const out = await handler({}, context);
    // Assess
    expect(out).toEqual(decision);
  });

  it('fails the invocation with Baton.ContractViolation naming the field that breaks it', async () => {
    // Prepare
    const handler = middy<unknown, unknown>()
      .use(outputContract(Resolution, 'The resolveApproval function'))
      .handler(async () => ({ action: 'proceed', error: null }));
    // Act
    const result = handler({}, context);
    // Assess
    await expect(result).rejects.toBeInstanceOf(ContractViolationError);
    await expect(handler({}, context)).rejects.toThrow(
      /^The resolveApproval function returned output that breaks its contract: .*→ at action/,
    );
  });
});
