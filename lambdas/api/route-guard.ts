/**
 * The routes of the HTTP API (lib/aws/stack.ts creates them from this list) and the check that
 * an event came through one of them: the API function serves what its routes allow, not whatever
 * event reaches it. `$default` is the IAM-authorized catch-all (and the local shim's route key);
 * every other route key must be one of ours, and the request must fit it (method and path).
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { NotFoundError } from '../core/errors.js';
import type { HttpEvent } from './http.js';

/** The IAM-authorized catch-all route: everything but the routes below. */
export const DEFAULT_ROUTE = '$default';

/**
 * Routes without IAM: the health check and approval links (the HMAC signature in the link is the
 * credential). Throttled per route in the stage (stack.ts PUBLIC_ROUTE_THROTTLE).
 */
export const PUBLIC_ROUTES = [
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/approvals/{id}' },
  { method: 'POST', path: '/approvals/{id}' },
] as const;
export type PublicRoute = (typeof PUBLIC_ROUTES)[number];

/**
 * The console's routes: the same API under `/console-api/`, authorized by the Cognito user pool's
 * JWT authorizer instead of IAM (an HTTP API route has one authorizer). GET and POST only, so API
 * Gateway's CORS configuration answers the browser's preflight OPTIONS without an authorizer.
 */
export const CONSOLE_API_PREFIX = '/console-api';
export const CONSOLE_ROUTES = [
  { method: 'GET', path: `${CONSOLE_API_PREFIX}/{proxy+}` },
  { method: 'POST', path: `${CONSOLE_API_PREFIX}/{proxy+}` },
] as const;
export type ConsoleRoute = (typeof CONSOLE_ROUTES)[number];

export const routeKeyOf = (r: PublicRoute | ConsoleRoute): string => `${r.method} ${r.path}`;

/** `/approvals/{id}` -> /^\/approvals\/[^/]+$/ */
function pathPattern(template: string): RegExp {
  const escaped = template
    .split(/\{[^}]+\}/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${escaped}$`);
}

/** Throws NotFoundError (404) unless the event came through one of our routes and fits it. */
export function checkRoute(event: Pick<HttpEvent, 'routeKey' | 'rawPath' | 'requestContext'>): void {
  const key = event.routeKey;
  if (key === DEFAULT_ROUTE) return;
  const method = event.requestContext?.http?.method;
  const consoleRoute = CONSOLE_ROUTES.find((r) => routeKeyOf(r) === key);
  if (consoleRoute) {
    if (method === consoleRoute.method && event.rawPath.startsWith(`${CONSOLE_API_PREFIX}/`)) return;
    throw new NotFoundError(`${method ?? '?'} ${event.rawPath} did not come through a route of this API.`);
  }
  const route = PUBLIC_ROUTES.find((r) => routeKeyOf(r) === key);
  if (!route || method !== route.method || !pathPattern(route.path).test(event.rawPath)) {
    throw new NotFoundError(`${method ?? '?'} ${event.rawPath} did not come through a route of this API.`);
  }
}

/**
 * A console route's request, as the API's own routes see it: `/console-api/tasks` becomes `/tasks`
 * (raw path and the path the router matches). Other events are left as they are.
 */
export function stripConsolePrefix(event: HttpEvent): void {
  if (!CONSOLE_ROUTES.some((r) => routeKeyOf(r) === event.routeKey)) return;
  const strip = (p: string) =>
    p.startsWith(`${CONSOLE_API_PREFIX}/`) ? p.slice(CONSOLE_API_PREFIX.length) : p;
  event.rawPath = strip(event.rawPath);
  if (event.requestContext?.http) event.requestContext.http.path = strip(event.requestContext.http.path);
}

/** Middleware: checkRoute before anything else runs, then a console route's prefix is taken off. */
export function routeGuard(): MiddlewareObj<HttpEvent, APIGatewayProxyResultV2> {
  return {
    before: (request) => {
      checkRoute(request.event);
      stripConsolePrefix(request.event);
    },
  };
}
