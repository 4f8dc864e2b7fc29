#!/usr/bin/env node
// `npx baton` / `npm exec -- baton`: the CLI (bin/baton.ts) through tsx. It needs Node >= 22 (the
// project's own, node_modules/node-*/bin/node, which npm puts first on PATH); run by an older
// node, it starts itself again on that one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const own = join(here, '..', 'node_modules', `node-${process.platform}-${arch}`, 'bin', 'node');
  if (!existsSync(own)) {
    process.stderr.write(`baton: needs Node 22 or newer (this is ${process.version}); run npm ci first\n`);
    process.exit(2);
  }
  const res = spawnSync(own, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(res.status ?? 1);
}
const { register } = await import('tsx/esm/api');
register();
await import('./baton.ts');
