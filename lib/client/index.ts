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
 * credentials), or none (the console behind its own proxy).
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';
import { type SigV4Options, sigv4Middleware } from './sigv4.js';

export type { components, operations, paths };
export type Schemas = components['schemas'];
export type TaskView = Schemas['TaskView'];
export type TaskEvent = Schemas['TaskEvent'];
export type EventPage = Schemas['EventPage'];
export type ArtifactRef = Schemas['ArtifactList']['artifacts'][number];
export type Problem = Schemas['Problem'];
export type CreateTaskRequest = Schemas['CreateTaskRequest'];
export type DecisionRequest = Schemas['DecisionRequest'];

export type BatonAuth =
  | { type: 'bearer'; token: string }
  | ({ type: 'sigv4' } & SigV4Options)
  | { type: 'none' };

export interface BatonClientOptions {
  /** The API's URL: local `http://127.0.0.1:3000`, in AWS the stack output ApiUrl. */
  baseUrl: string;
  auth: BatonAuth;
  /** A fetch of your own (tests, proxies); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** More middleware (logging, retries), run before signing. */
  middleware?: Middleware[];
}

export type BatonClient = Client<paths>;

function authMiddleware(auth: BatonAuth): Middleware | undefined {
  switch (auth.type) {
    case 'bearer':
      return {
        onRequest: ({ request }) => {
          request.headers.set('authorization', `Bearer ${auth.token}`);
          return request;
        },
      };
    case 'sigv4':
      return sigv4Middleware(auth);
    case 'none':
      return undefined;
  }
}

export function createBatonClient(opts: BatonClientOptions): BatonClient {
  const client = createClient<paths>({
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  for (const m of opts.middleware ?? []) client.use(m);
  // Signing last: it must see the request as it will be sent.
  const auth = authMiddleware(opts.auth);
  if (auth) client.use(auth);
  return client;
}

export { createRequestSigner, type SigV4Options, sigv4Middleware } from './sigv4.js';
