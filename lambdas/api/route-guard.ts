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

export const routeKeyOf = (r: PublicRoute): string => `${r.method} ${r.path}`;

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
  const route = PUBLIC_ROUTES.find((r) => routeKeyOf(r) === key);
  const method = event.requestContext?.http?.method;
  if (!route || method !== route.method || !pathPattern(route.path).test(event.rawPath)) {
    throw new NotFoundError(`${method ?? '?'} ${event.rawPath} did not come through a route of this API.`);
  }
}

/** Middleware: checkRoute before anything else runs. */
export function routeGuard(): MiddlewareObj<HttpEvent, APIGatewayProxyResultV2> {
  return {
    before: (request) => {
      checkRoute(request.event);
    },
  };
}
