/**
 * The typed Baton API client, used by the CLI and the console.
 *
 *   import { createBatonClient } from '../lib/client/index.js';
 *   const baton = createBatonClient({ baseUrl: 'http://127.0.0.1:3000', auth: { type: 'bearer', token } });
 *   const { data, error, response } = await baton.GET('/tasks/{id}', { params: { path: { id } } });
 *
 * It is openapi-fetch over the types openapi-typescript generates from the OpenAPI document
 * (`lib/client/schema.d.ts`, `npm run gen:client`): paths, parameters, bodies and responses are
 * checked at compile time, so a contract change breaks the build of whoever uses it. `error` is
 * the problem document (or API Gateway's `{ message }`) of a non-2xx answer; network failures
 * reject. Auth: a bearer key (local mode), SigV4 (AWS, IAM authorizer; Node or any runtime given
 * credentials), or none (the console behind its own proxy). `./browser.js` is the same client
 * without SigV4, for browser bundles (the console).
 */
import {
  type BasicAuth,
  type BatonClient,
  basicAuthMiddleware,
  type ClientOptions,
  createClientWith,
} from './browser.js';
import { type SigV4Options, sigv4Middleware } from './sigv4.js';

export type {
  ArtifactRef,
  BasicAuth,
  BatonClient,
  ClientOptions,
  CreateTaskRequest,
  components,
  DecisionRequest,
  EventPage,
  operations,
  Problem,
  paths,
  Schemas,
  TaskEvent,
  TaskView,
} from './browser.js';

export type BatonAuth = BasicAuth | ({ type: 'sigv4' } & SigV4Options);

export interface BatonClientOptions extends ClientOptions {
  auth: BatonAuth;
}

export function createBatonClient(opts: BatonClientOptions): BatonClient {
  // Signing last: it must see the request as it will be sent.
  return createClientWith(
    opts,
    opts.auth.type === 'sigv4' ? sigv4Middleware(opts.auth) : basicAuthMiddleware(opts.auth),
  );
}

export { createRequestSigner, type SigV4Options, sigv4Middleware } from './sigv4.js';
