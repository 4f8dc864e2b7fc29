/**
 * The store contract (store.contract.ts) against each implementation of the ports: the DynamoDB
 * adapters on dynalite, in one table and with the control plane in a table of its own, and the
 * in-memory fake the unit tests use. Tables are created from the synthesized template, as the
 * local runtime creates them: same key schema, same indexes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { TaskStore } from '../../lambdas/adapters/store.js';
import { agentCatalog } from '../../lambdas/agents/registry.js';
import { type Emulators, LOCAL_REGION, startEmulators } from '../../lib/local/emulators.js';
import { createTables } from '../../lib/local/runtime.js';
import { type CfnTemplate, defaultLocalNames, synthTemplate } from '../../lib/local/template.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { describeStoreContract } from './store.contract.js';

let dataDir: string;
let emulators: Emulators;
let template: CfnTemplate;
let ddb: DynamoDBClient;
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'baton-store-contract-'));
  emulators = await startEmulators({ dataDir });
  template = synthTemplate(agentCatalog({ config: { agents: {} }, baseDir: dataDir }));
  ddb = new DynamoDBClient({
    region: LOCAL_REGION,
    endpoint: emulators.dynamodb,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  // The marshalling options of documentClient() (lambdas/adapters/clients.ts).
  doc = DynamoDBDocumentClient.from(ddb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
});

afterAll(async () => {
  ddb?.destroy();
  await emulators?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

let tables = 0;
/** Creates the template's table under a fresh name (every test starts from an empty table). */
async function freshTable(): Promise<string> {
  tables += 1;
  const created: string[] = [];
  const defaults = defaultLocalNames((n) => n);
  await createTables(
    template,
    {
      ...defaults,
      ref: (id) => {
        const name = `contract-${tables}-${id}`;
        created.push(name);
        return name;
      },
    },
    ddb,
  );
  const [name] = created;
  if (created.length !== 1 || !name) throw new Error(`expected one table in the template, got ${created}`);
  return name;
}

describeStoreContract(
  'DynamoDB adapters (dynalite, one table)',
  async () => new TaskStore(doc, await freshTable()),
);
describeStoreContract(
  'DynamoDB adapters (dynalite, control plane in its own table)',
  async () => new TaskStore(doc, await freshTable(), await freshTable()),
);
describeStoreContract('in-memory fake', async () => new MemoryStore());
