/** The local runtime as its own process (what `npm start` runs), for tests that kill it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FIXTURE_CONFIG } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');

export interface RuntimeProcesses {
  dataDir: string;
  port: number;
  /** Starts `bin/local.ts` on the fixed port and data dir; resolves once it serves. */
  start(): Promise<ChildProcess>;
  /** Kills whatever is still running and removes the data dir. */
  cleanup(): void;
}

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

export async function runtimeProcesses(apiKey: string): Promise<RuntimeProcesses> {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-proc-'));
  const port = await freePort();
  const children: ChildProcess[] = [];
  return {
    dataDir,
    port,
    async start() {
      const env: Record<string, string | undefined> = {
        ...process.env,
        PORT: String(port),
        BATON_DATA_DIR: dataDir,
        BATON_CONFIG: FIXTURE_CONFIG,
        BATON_API_KEY: apiKey,
      };
      delete env.BATON_PUBLIC_URL;
      const child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      await new Promise<void>((ok, fail) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('Baton is running locally')) ok();
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.once('exit', (code) => fail(new Error(`runtime exited with ${code}: ${output.slice(-2000)}`)));
      });
      return child;
    },
    cleanup() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns a value. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
