/** The console's entry point: its config, who is signed in, then the app. */
import { html } from 'htm/preact';
import { render } from 'preact';
import { configureApi } from './api.js';
import { App, KeyForm } from './app.js';
import {
  adoptKeyFromFragment,
  type CognitoConfig,
  type ConsoleConfig,
  credential,
  finishCognitoSignIn,
  loadConfig,
  setApiKey,
  signOut,
  startCognitoSignIn,
} from './auth.js';
import './style.css';

const root = document.getElementById('app') as HTMLElement;
// The static "Loading…" text is not preact's to diff: start from an empty root.
root.replaceChildren();

function show(config: ConsoleConfig): void {
  const token = credential(config);
  if (!token) {
    if (config.auth.kind === 'cognito') {
      void startCognitoSignIn(config as CognitoConfig);
      return;
    }
    render(
      html`<${KeyForm} onKey=${(key: string) => {
        setApiKey(key);
        show(config);
      }} />`,
      root,
    );
    return;
  }
  const out = () => {
    signOut();
    render(null, root);
    show(config);
  };
  configureApi({ base: config.apiBase, token: () => credential(config), onUnauthorized: out });
  render(html`<${App} signOut=${out} who=${config.auth.kind === 'key' ? 'API key' : 'Signed in'} />`, root);
}

async function boot(): Promise<void> {
  try {
    const config = await loadConfig();
    adoptKeyFromFragment();
    await finishCognitoSignIn(config);
    show(config);
  } catch (err) {
    root.textContent = `The console could not start: ${(err as Error).message}`;
  }
}

void boot();
