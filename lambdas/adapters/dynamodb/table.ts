/**
 * What the DynamoDB adapters of the state store share: the table's indexes, the task
 * partition key, conditional writes, prefix queries, cursors and the store's errors.
 *
 * Key design (one partition per task, `TASK#<id>`; see each adapter for its items):
 *   META, INPUTS, PLAN, COUNTER   tasks.ts (COUNTER is the event sequence, events.ts)
 *   EVT#<eventId>                 events.ts (LSI `bySeq` on `lsi1sk` orders them)
 *   RESULT#…                      results.ts (a plain step's success carries its StepSucceeded, in the LSI)
 *   ART#<artifactId>              artifacts.ts
 *   TOKEN#…                       tokens.ts     (control plane)
 *   APPROVAL#…                    approvals.ts  (control plane; lookup by id in `APPROVAL#<id>`)
 * Other partitions: `DEADLETTERS` (dead-letters.ts), `IDEM#<key>` (idempotency.ts, control plane).
 * GSIs: `byStatus` (`gsi1pk`/`gsi1sk`: tasks by status, approvals by status), `byCreated`
 * (`gsi2pk`/`gsi2sk`: every task by creation time).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  type NativeAttributeValue,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { BatonError, ErrorNames, ValidationError } from '../../core/errors.js';

export const TABLE_INDEXES = { bySeq: 'bySeq', byStatus: 'byStatus', byCreated: 'byCreated' } as const;

export class StoreError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.StoreError;
  }
}

/** A ValidationError: the API answers it as a 400 problem, like any invalid query. */
export class InvalidCursorError extends ValidationError {
  constructor() {
    super('cursor is not one this API returned; pass the "next" value of the previous page');
    this.name = ErrorNames.InvalidCursor;
  }
}

/**
 * How every document client of the table marshals (lambdas/adapters/clients.ts, the local
 * runtime's own): undefined attributes dropped, class instances refused.
 */
export const DOCUMENT_MARSHALLING = {
  marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
} as const;

/** An item as the document client reads and writes it. */
export type Item = Record<string, NativeAttributeValue>;

export const taskPk = (taskId: string) => `TASK#${taskId}`;

export function isConditionalFailure(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err as Error)?.name === 'ConditionalCheckFailedException'
  );
}

/** One table as the adapters use it: a document client and the table's name. */
export class DynamoTable {
  constructor(
    readonly ddb: DynamoDBDocumentClient,
    readonly name: string,
  ) {}

  /** Writes the item unless one with its key exists; false when it existed. */
  async putIfAbsent(item: Item): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.name,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new StoreError(`Could not write ${String(item.sk)} of ${String(item.pk)}`, { cause: err });
    }
  }

  /** The items of these keys that exist (consistent reads, 100 keys per BatchGetItem, unprocessed keys retried). */
  async getMany(keys: readonly Item[]): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Item[] | undefined = keys.slice(i, i + 100) as Item[];
      for (let round = 0; pending?.length; round++) {
        if (round > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** round)));
        const res = await this.ddb.send(
          new BatchGetCommand({ RequestItems: { [this.name]: { Keys: pending, ConsistentRead: true } } }),
        );
        out.push(...(res.Responses?.[this.name] ?? []));
        pending = res.UnprocessedKeys?.[this.name]?.Keys as Item[] | undefined;
      }
    }
    return out;
  }

  /** Every item of a partition whose sort key starts with `prefix`, in sort key order (consistent). */
  async queryPrefix(pk: string, prefix: string): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    do {
      const res = await this.ddb.send(
        new QueryCommand({
          TableName: this.name,
          KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
          ExpressionAttributeValues: { ':p': pk, ':s': prefix },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }
}

/** The item without its key attributes: the record the adapter wrote. */
/**
 * User JSON (a task's inputs, its plan with the step inputs, agent outputs, event data) is stored
 * as JSON text, one string attribute `<name>Json`: any JSON comes back as it was sent. As a
 * DynamoDB map it would not: the SDK's marshalling throws on a key named `constructor` and drops
 * one named `__proto__`, and DynamoDB refuses more than 32 levels of nesting. Nothing queries
 * into these attributes.
 */
export function jsonAttr(name: string, value: unknown): Item {
  return value === undefined ? {} : { [`${name}Json`]: JSON.stringify(value) };
}

/**
 * The item with each JSON-text attribute `<name>Json` read back into `<name>` (an item written
 * before JSON text, with a map under `<name>`, is read as it is).
 */
export function readJsonAttrs(item: Item, names: readonly string[]): Item {
  const out: Item = { ...item };
  for (const name of names) {
    const text = out[`${name}Json`];
    delete out[`${name}Json`];
    if (typeof text !== 'string') continue;
    try {
      out[name] = JSON.parse(text);
    } catch (err) {
      throw new StoreError(`${String(item.sk)} of ${String(item.pk)}: ${name} is not JSON`, { cause: err });
    }
  }
  return out;
}

export function strip(item: Item): Item {
  const { pk: _p, sk: _s, lsi1sk: _l, ...rest } = item;
  return rest;
}

export function encodeCursor(key: Item): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * A cursor this store returned for the query keyed by `partition` (`{ [attribute]: value }`):
 * exactly the table's key and the index's key attributes, all strings, in that partition.
 * Anything else (a forged cursor, one of another listing) is an InvalidCursorError, never a
 * start key DynamoDB would refuse with a 500.
 */
export function decodeCursor(
  cursor: string,
  expect?: { partition: Record<string, string>; sortKey: string },
): Item {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      if (!expect) return v;
      const keys = ['pk', 'sk', ...Object.keys(expect.partition), expect.sortKey];
      const own = Object.keys(v);
      const exact =
        own.length === keys.length &&
        keys.every((k) => typeof v[k] === 'string' && v[k].length > 0 && v[k].length <= 1024) &&
        Object.entries(expect.partition).every(([k, value]) => v[k] === value);
      if (exact) return v;
    }
  } catch {
    /* fall through */
  }
  throw new InvalidCursorError();
}
