import type { Request } from '@middy/core';
import type { APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InvalidCursorError } from '../../lambdas/adapters/store.js';
import { approvalConflictError } from '../../lambdas/api/approvals.js';
import { type HttpEvent, problemErrors, problemFor } from '../../lambdas/api/http.js';
import {
  AgentFailedError,
  ConflictError,
  GoneError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
} from '../../lambdas/core/errors.js';

/** Runs the API's error middleware on `error` for a request to `path`; returns the response and the log. */
async function respond(error: unknown, path = '/tasks') {
  const lines: Record<string, unknown>[] = [];
  const request: Request<HttpEvent, APIGatewayProxyResultV2, Error, Context> = {
    event: { rawPath: path, requestContext: { http: { method: 'GET' } } } as HttpEvent,
    context: {} as Context,
    response: undefined,
    error: error as Error,
    internal: {},
  };
  await problemErrors((line) => lines.push(line)).onError?.(request);
  const res = request.response as { statusCode: number; headers: Record<string, string>; body: string };
  return { res, body: JSON.parse(res.body) as Record<string, unknown>, lines };
}

describe('the API error table (domain error class -> status and title)', () => {
  it.each([
    [new ValidationError('bad'), 400, 'Invalid request'],
    [new UnauthorizedError(), 401, 'Unauthorized'],
    [new NotFoundError('No task t_1.'), 404, 'Not found'],
    [new ConflictError('taken'), 409, 'Conflict'],
    [new GoneError('expired'), 410, 'Gone'],
    [new PayloadTooLargeError('big'), 413, 'Payload too large'],
    [new InvalidCursorError(), 400, 'Invalid request'],
  ])('maps %s', (error, status, title) => {
    // Act
    const mapped = problemFor(error);
    // Assess
    expect(mapped).toMatchObject({ status, title, detail: error.message });
  });

  it('writes the problem document byte for byte as before, issues included', async () => {
    // Prepare
    const error = new ValidationError('The body is not valid: body.goal: Required', [
      { path: 'body.goal', message: 'Required' },
    ]);
    // Act
    const { res } = await respond(error, '/tasks');
    // Assess
    expect(res.statusCode).toBe(400);
    expect(res.headers).toEqual({ 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
    expect(res.body).toBe(
      '{"type":"https://baton.dev/problems/invalid-request","title":"Invalid request","status":400,' +
        '"detail":"The body is not valid: body.goal: Required","instance":"/tasks",' +
        '"issues":[{"path":"body.goal","message":"Required"}]}',
    );
  });

  it('answers an approval decided before with 409 and who decided, an expired one with 410', async () => {
    // Prepare
    const decision = {
      decision: 'reject' as const,
      approver: 'Ada',
      via: 'link' as const,
      at: '2030-01-01T00:00:00.000Z',
    };
    const decided = approvalConflictError({ reason: 'already-decided', approvalId: 'ap_1', decision });
    const expired = approvalConflictError({
      reason: 'expired',
      approvalId: 'ap_1',
      expiresAt: '2030-01-02T00:00:00.000Z',
    });
    // Act
    const conflict = await respond(decided, '/approvals/ap_1/decision');
    const gone = await respond(expired, '/approvals/ap_1/decision');
    // Assess
    expect(conflict.res.statusCode).toBe(409);
    expect(conflict.body).toEqual({
      type: 'https://baton.dev/problems/conflict',
      title: 'Conflict',
      status: 409,
      detail: 'approval ap_1 was already decided (reject) by Ada at 2030-01-01T00:00:00.000Z',
      instance: '/approvals/ap_1/decision',
      decided: { decision: 'reject', approver: 'Ada', at: '2030-01-01T00:00:00.000Z', via: 'link' },
    });
    expect(gone.res.statusCode).toBe(410);
    expect(gone.body).toEqual({
      type: 'https://baton.dev/problems/gone',
      title: 'Gone',
      status: 410,
      detail: 'approval ap_1 expired at 2030-01-02T00:00:00.000Z',
      instance: '/approvals/ap_1/decision',
    });
  });

  it('turns anything else into a generic 500 that hides the message, and logs it', async () => {
    // Prepare
    const error = new AgentFailedError('secret internals: table baton-prod');
    // Act
    const { res, body, lines } = await respond(error);
    // Assess
    expect(problemFor(error)).toBeUndefined();
    expect(res.statusCode).toBe(500);
    expect(body).toEqual({
      type: 'https://baton.dev/problems/internal-error',
      title: 'Internal error',
      status: 500,
      detail: 'The request failed on our side; it is safe to retry.',
      instance: '/tasks',
    });
    expect(res.body).not.toContain('secret internals');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        error: expect.objectContaining({
          name: 'Baton.AgentFailed',
          message: 'secret internals: table baton-prod',
        }),
      }),
    ]);
  });

  it("answers the router's unknown route with a 404 problem naming method and path", async () => {
    // Prepare
    const noRoute = Object.assign(new Error('Route does not exist'), { statusCode: 404 });
    // Act
    const { res, body } = await respond(noRoute, '/nope');
    // Assess
    expect(res.statusCode).toBe(404);
    expect(body).toMatchObject({ title: 'Not found', detail: 'No route GET /nope', instance: '/nope' });
  });
});
