/**
 * Who the console is signed in as. Locally: the API key (from the `#key=` fragment `npm start`
 * prints, or typed in once), kept in sessionStorage. In AWS: a Cognito user pool, signed in through
 * its hosted UI (authorization code + PKCE); the access token goes to the HTTP API's JWT authorizer.
 */

export interface CognitoConfig {
  apiBase: string;
  auth: { kind: 'cognito'; domain: string; clientId: string; redirectUri: string; scopes: string[] };
}
/** `/console/config.json`: written by the local runtime, or deployed beside the assets by the stack. */
export type ConsoleConfig = { apiBase: string; auth: { kind: 'key' } } | CognitoConfig;

const KEY = 'baton.apiKey';
const TOKEN = 'baton.accessToken';
const VERIFIER = 'baton.pkceVerifier';

export async function loadConfig(): Promise<ConsoleConfig> {
  const res = await fetch('/console/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`The console's config.json answered ${res.status}`);
  return (await res.json()) as ConsoleConfig;
}

/** Takes a `#key=...` fragment into sessionStorage and removes it from the address bar. */
export function adoptKeyFromFragment(): void {
  const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!m?.[1]) return;
  sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
}

export function credential(config: ConsoleConfig): string | undefined {
  return sessionStorage.getItem(config.auth.kind === 'key' ? KEY : TOKEN) ?? undefined;
}
export function setApiKey(key: string): void {
  sessionStorage.setItem(KEY, key.trim());
}
export function signOut(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(TOKEN);
}

const base64url = (bytes: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

/** Cognito hosted UI: send the browser to sign in (PKCE: the verifier stays in this tab). */
export async function startCognitoSignIn(config: CognitoConfig) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  sessionStorage.setItem(VERIFIER, verifier);
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const a = config.auth;
  const url = new URL(`${a.domain}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: a.clientId,
    redirect_uri: a.redirectUri,
    scope: a.scopes.join(' '),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

/** Back from the hosted UI with `?code=`: trade it for tokens (Cognito's token endpoint). */
export async function finishCognitoSignIn(config: ConsoleConfig): Promise<void> {
  if (config.auth.kind !== 'cognito') return;
  const code = new URLSearchParams(location.search).get('code');
  const verifier = sessionStorage.getItem(VERIFIER);
  if (!code || !verifier) return;
  const a = config.auth;
  const res = await fetch(`${a.domain}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: a.clientId,
      code,
      redirect_uri: a.redirectUri,
      code_verifier: verifier,
    }).toString(),
  });
  sessionStorage.removeItem(VERIFIER);
  if (!res.ok) throw new Error(`Signing in failed (${res.status})`);
  const tokens = (await res.json()) as { access_token: string };
  sessionStorage.setItem(TOKEN, tokens.access_token);
  history.replaceState(null, '', `${location.pathname}#/`);
}
