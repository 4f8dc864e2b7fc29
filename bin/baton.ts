/**
 * The Baton CLI (`npx baton …`, via bin/baton.mjs; also `npm run baton -- …`): lib/cli/main.ts on
 * the typed client. `baton --help` lists the commands, options and exit codes.
 */
import { runCli } from '../lib/cli/main.js';

const code = await runCli(process.argv.slice(2), {
  stdout: (chunk) => process.stdout.write(chunk),
  stderr: (chunk) => process.stderr.write(chunk),
  env: process.env,
  cwd: process.cwd(),
});
// Let stdout drain (a large artifact piped to another program) before exiting.
process.exitCode = code;
