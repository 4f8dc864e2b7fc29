/** The API function serves only events that came through one of its routes. */
import { describe, expect, it } from 'vitest';
import type { HttpEvent } from '../../lambdas/api/http.js';
import { checkRoute, stripConsolePrefix } from '../../lambdas/api/route-guard.js';
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
    ['GET /console-api/{proxy+}', 'GET', '/console-api/tasks'],
    ['POST /console-api/{proxy+}', 'POST', '/console-api/approvals/AbC123/decision'],
  ])('lets %s %s %s through', (key, method, path) => {
    expect(() => checkRoute(event(key, method, path))).not.toThrow();
  });

  it.each([
    ['GET /tasks', 'GET', '/tasks'],
    ['GET /approvals/{id}', 'GET', '/tasks/t_1/artifacts/a_1'],
    ['GET /approvals/{id}', 'POST', '/approvals/AbC123'],
    ['POST /approvals/{id}', 'POST', '/approvals/AbC123/decision'],
    ['ANY /{proxy+}', 'GET', '/tasks'],
    ['GET /console-api/{proxy+}', 'POST', '/console-api/tasks'],
    ['GET /console-api/{proxy+}', 'GET', '/tasks'],
  ])('refuses %s carrying %s %s with 404', (key, method, path) => {
    expect(() => checkRoute(event(key, method, path))).toThrow(NotFoundError);
  });
});

describe('stripConsolePrefix', () => {
  it('shows a console route the API path behind its prefix, and leaves other routes alone', () => {
    // Prepare
    const viaConsole = {
      routeKey: 'GET /console-api/{proxy+}',
      rawPath: '/console-api/tasks/t_1',
      requestContext: { http: { method: 'GET', path: '/console-api/tasks/t_1' } },
    } as unknown as HttpEvent;
    const viaIam = {
      routeKey: '$default',
      rawPath: '/console-api/tasks',
      requestContext: { http: { method: 'GET', path: '/console-api/tasks' } },
    } as unknown as HttpEvent;
    // Act
    stripConsolePrefix(viaConsole);
    stripConsolePrefix(viaIam);
    // Assess
    expect([viaConsole.rawPath, viaConsole.requestContext.http.path]).toEqual(['/tasks/t_1', '/tasks/t_1']);
    expect(viaIam.rawPath).toBe('/console-api/tasks');
  });
});
