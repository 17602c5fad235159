import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';

export type JsonRecord = Record<string, unknown>;

/** Canonical records of a JSON document: an array's elements, or the document itself. */
export function* recordsOf(document: unknown): Generator<JsonRecord> {
  const items = Array.isArray(document) ? document : [document];
  for (const item of items) {
    yield isPlainObject(item) ? item : { value: item };
  }
}

export function isPlainObject(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads NDJSON one line at a time, so memory does not grow with the file. */
export async function* readNdjson(stream: Readable): AsyncGenerator<JsonRecord> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length > 0) {
      yield JSON.parse(line) as JsonRecord;
    }
  }
}

export function ndjsonStream(records: Iterable<JsonRecord> | AsyncIterable<JsonRecord>): Readable {
  return Readable.from(
    (async function* () {
      for await (const record of records) {
        yield `${JSON.stringify(record)}\n`;
      }
    })(),
  );
}

export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'null' | 'object' | 'array';

export function typeOf(value: unknown): FieldType {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'object') return typeof value as FieldType;
  return 'string';
}
