/**
 * The typed Baton API client without SigV4: openapi-fetch, the generated types, bearer or no
 * auth. The console imports this module, so its browser bundle holds openapi-fetch and nothing of
 * the AWS SDK (`./index.js` re-exports it and adds SigV4, whose credential chain is Node-only).
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type Schemas = components['schemas'];
export type TaskView = Schemas['TaskView'];
export type TaskEvent = Schemas['TaskEvent'];
export type EventPage = Schemas['EventPage'];
export type ArtifactRef = Schemas['ArtifactList']['artifacts'][number];
export type Problem = Schemas['Problem'];
export type CreateTaskRequest = Schemas['CreateTaskRequest'];
export type DecisionRequest = Schemas['DecisionRequest'];

/** Bearer (local mode's API key, the console's Cognito token) or none (behind a proxy). */
export type BasicAuth = { type: 'bearer'; token: string } | { type: 'none' };

export interface ClientOptions {
  /** The API's URL: local `http://127.0.0.1:3000`, in AWS the stack output ApiUrl. */
  baseUrl: string;
  /** A fetch of your own (tests, proxies); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** More middleware (logging, retries, a token read per request), run before `auth`. */
  middleware?: Middleware[];
}

export type BatonClient = Client<paths>;

export function basicAuthMiddleware(auth: BasicAuth): Middleware | undefined {
  if (auth.type === 'none') return undefined;
  return {
    onRequest: ({ request }) => {
      request.headers.set('authorization', `Bearer ${auth.token}`);
      return request;
    },
  };
}

/** The client with `opts`' middleware, then `auth` last (a signer must see the request as sent). */
export function createClientWith(opts: ClientOptions, auth?: Middleware): BatonClient {
  const client = createClient<paths>({
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  for (const m of opts.middleware ?? []) client.use(m);
  if (auth) client.use(auth);
  return client;
}

export function createBatonClient(opts: ClientOptions & { auth: BasicAuth }): BatonClient {
  return createClientWith(opts, basicAuthMiddleware(opts.auth));
}
