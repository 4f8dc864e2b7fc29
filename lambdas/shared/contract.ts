/**
 * Checks what a state-machine Lambda returns against its output schema (lambdas/core/states.ts)
 * before Step Functions sees it: a use case that drifts from its contract fails its state with
 * Baton.ContractViolation (never retried) instead of feeding a Choice or a later Lambda a value
 * of the wrong shape.
 */
import type { MiddlewareObj } from '@middy/core';
import * as z from 'zod';
import { ContractViolationError } from '../core/errors.js';

export function outputContract<S extends z.ZodType>(
  schema: S,
  what: string,
): MiddlewareObj<unknown, z.output<S>> {
  return {
    after: (request) => {
      const checked = schema.safeParse(request.response);
      if (!checked.success) {
        throw new ContractViolationError(
          `${what} returned output that breaks its contract: ${z.prettifyError(checked.error).replace(/\n/g, ' ')}`,
          { cause: checked.error },
        );
      }
    },
  };
}
