/** The API function serves only events that came through one of its routes. */
import { describe, expect, it } from 'vitest';
import { checkRoute } from '../../lambdas/api/route-guard.js';
import { NotFoundError } from '../../lambdas/core/errors.js';

const event = (routeKey: string, method: string, rawPath: string) => ({
  routeKey,
  rawPath,
  requestContext: { http: { method } } as never,
});

describe('checkRoute', () => {
  it.each([
    ['$default', 'DELETE', '/tasks/t_1'],
    ['GET /healthz', 'GET', '/healthz'],
    ['GET /approvals/{id}', 'GET', '/approvals/AbC123'],
    ['POST /approvals/{id}', 'POST', '/approvals/AbC123'],
  ])('lets %s %s %s through', (key, method, path) => {
    expect(() => checkRoute(event(key, method, path))).not.toThrow();
  });

  it.each([
    ['GET /tasks', 'GET', '/tasks'],
    ['GET /approvals/{id}', 'GET', '/tasks/t_1/artifacts/a_1'],
    ['GET /approvals/{id}', 'POST', '/approvals/AbC123'],
    ['POST /approvals/{id}', 'POST', '/approvals/AbC123/decision'],
    ['ANY /{proxy+}', 'GET', '/tasks'],
  ])('refuses %s carrying %s %s with 404', (key, method, path) => {
    expect(() => checkRoute(event(key, method, path))).toThrow(NotFoundError);
  });
});
