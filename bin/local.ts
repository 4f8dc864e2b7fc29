/** `npm start`: Baton on this machine, no AWS account needed. PORT, BATON_DATA_DIR, BATON_API_KEY, BATON_CONFIG. */
import { startLocalRuntime } from '../lib/local/runtime.js';

try {
  const rt = await startLocalRuntime({});
  process.stdout.write(
    [
      '',
      `Baton is running locally at ${rt.url}`,
      `  console:   ${rt.consoleUrl}`,
      `  API key:   ${rt.apiKey}`,
      `  data dir:  ${rt.dataDir}`,
      `  try:       curl -s -H "Authorization: Bearer ${rt.apiKey}" ${rt.url}/tasks`,
      '',
    ].join('\n'),
  );
  const stop = async (signal: string) => {
    process.stdout.write(`\n${signal}: stopping Baton...\n`);
    await rt.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
} catch (err) {
  process.stderr.write(`Baton could not start: ${(err as Error).message}\n`);
  if ((err as Error).name === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    process.stderr.write('The port is taken: set PORT to another one, e.g. PORT=3001 npm start\n');
  }
  process.exit(1);
}
