/** JSON documents in a store (manifests, verify marks, drill records): written pretty-printed, read against a schema. */
import { Readable } from 'node:stream';
import type { z } from 'zod';
import type { BackupStore } from '../stores/types';

/** `value` as the body of a stored JSON document: two-space indented, one trailing newline. */
export function jsonBody(value: unknown): Readable {
  return Readable.from([Buffer.from(`${JSON.stringify(value, null, 2)}\n`)]);
}

/** Why a stored document was rejected: it is not JSON, or it is JSON not in the schema's form (`detail` lists the issues). */
export interface JsonProblem {
  kind: 'json' | 'schema';
  detail: string;
}

/**
 * Reads the document at `key` and parses it with `schema`. A store failure is thrown as it is; a document
 * that is not JSON, or not in the schema's form, is thrown as the error `unreadable` makes of the problem.
 */
export async function readJson<S extends z.ZodType>(store: BackupStore, key: string, schema: S, unreadable: (problem: JsonProblem) => Error): Promise<z.output<S>> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(key)) chunks.push(chunk as Buffer);
  let document: unknown;
  try {
    document = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw unreadable({ kind: 'json', detail: (error as Error).message });
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success) throw unreadable({ kind: 'schema', detail: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') });
  return parsed.data;
}
