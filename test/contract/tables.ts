/**
 * dynalite for the contract suites: the emulator on a temporary data dir, and fresh tables made
 * from the synthesized template, as the local runtime creates them (same key schema, same indexes).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { agentCatalog } from '../../lambdas/agents/registry.js';
import { LOCAL_REGION, startEmulators } from '../../lib/local/emulators.js';
import { createTables } from '../../lib/local/runtime.js';
import { defaultLocalNames, synthTemplate } from '../../lib/local/template.js';

export interface ContractTables {
  ddb: DynamoDBClient;
  /** A document client with the marshalling options of documentClient() (lambdas/adapters/clients.ts). */
  doc: DynamoDBDocumentClient;
  /** Creates the template's table under a fresh name (every test starts from an empty table). */
  freshTable(): Promise<string>;
  close(): Promise<void>;
}

export async function contractTables(prefix: string): Promise<ContractTables> {
  const dataDir = await mkdtemp(join(tmpdir(), `baton-${prefix}-`));
  const emulators = await startEmulators({ dataDir });
  const template = synthTemplate(agentCatalog({ config: { agents: {} }, baseDir: dataDir }));
  const ddb = new DynamoDBClient({
    region: LOCAL_REGION,
    endpoint: emulators.dynamodb,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const doc = DynamoDBDocumentClient.from(ddb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  let tables = 0;
  return {
    ddb,
    doc,
    async freshTable() {
      tables += 1;
      const created: string[] = [];
      await createTables(
        template,
        {
          ...defaultLocalNames((n) => n),
          ref: (id) => {
            const name = `${prefix}-${tables}-${id}`;
            created.push(name);
            return name;
          },
        },
        ddb,
      );
      const [name] = created;
      if (created.length !== 1 || !name)
        throw new Error(`expected one table in the template, got ${created}`);
      return name;
    },
    async close() {
      ddb.destroy();
      await emulators.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
