/**
 * Builds the console into static assets with esbuild: `index.html`, `console/app.js` and
 * `console/app.css` (preact, htm, dagre, marked and the typed API client bundled in). The output
 * is content-addressed (its sources, the API client's and the lock file), under the OS temp
 * directory, so concurrent builds and synths share it; the stack deploys that folder to S3
 * (BucketDeployment) and local mode serves the copy the cloud assembly holds.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { buildSync } from 'esbuild';

export const CONSOLE_SOURCE_DIR = resolve(import.meta.dirname, 'src');
const PROJECT_ROOT = resolve(import.meta.dirname, '../..');

/** The files of a built console, relative to its folder. */
export const CONSOLE_FILES = ['index.html', 'console/app.js', 'console/app.css'] as const;

/** The typed API client, which the console bundles (`lib/client/browser.ts`). */
const CLIENT_SOURCE_DIR = resolve(PROJECT_ROOT, 'lib/client');

function sourceHash(): string {
  const hash = createHash('sha256');
  for (const dir of [CONSOLE_SOURCE_DIR, CLIENT_SOURCE_DIR])
    for (const name of readdirSync(dir).sort()) {
      hash.update(`${relative(PROJECT_ROOT, join(dir, name))}\0`);
      hash.update(readFileSync(join(dir, name)));
    }
  hash.update(readFileSync(join(PROJECT_ROOT, 'package-lock.json')));
  hash.update(readFileSync(import.meta.filename));
  return hash.digest('hex').slice(0, 24);
}

/** Builds the console (or reuses the build of the same sources) and returns its folder. */
export function buildConsole(opts: { outRoot?: string } = {}): string {
  const root = resolve(opts.outRoot ?? join(tmpdir(), 'baton-console'));
  const dir = join(root, sourceHash());
  if (CONSOLE_FILES.every((f) => existsSync(join(dir, f)))) return dir;
  mkdirSync(root, { recursive: true });
  const tmp = join(root, `.build-${process.pid}-${Date.now()}`);
  try {
    buildSync({
      entryPoints: [join(CONSOLE_SOURCE_DIR, 'main.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      minify: true,
      legalComments: 'linked',
      outfile: join(tmp, 'console', 'app.js'),
      logLevel: 'silent',
    });
    copyFileSync(join(CONSOLE_SOURCE_DIR, 'index.html'), join(tmp, 'index.html'));
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process built the same sources first: use theirs.
      if (!CONSOLE_FILES.every((f) => existsSync(join(dir, f)))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
