import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { deepNestingIn } from '../../common/json-nesting';
import { ContentError } from './content-error';
import type { ContentKind } from './content-kind';
import { MAX_NESTING_DEPTH } from './content-limits';
import { CsvDialect, csvRecords } from './csv';
import { jsonItems, JsonKind } from './json-stream';
import { parseJson } from './json-text';
import { describeDeepNesting } from './nesting';

export type JsonRecord = Record<string, unknown>;

/** A record as stored in the canonical form: objects as they are, anything else as `{value}`. */
export function asRecord(item: unknown): JsonRecord {
  return isPlainObject(item) ? item : { value: item };
}

/** Canonical records of a JSON document: an array's elements, or the document itself. */
export function* recordsOf(document: unknown): Generator<JsonRecord> {
  const items = Array.isArray(document) ? document : [document];
  for (const item of items) {
    yield asRecord(item);
  }
}

export function isPlainObject(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads NDJSON (the canonical records files) one record at a time, so memory does not grow with the file. */
export async function* readNdjson(stream: Readable): AsyncGenerator<JsonRecord> {
  for await (const batch of readNdjsonBatches(stream)) {
    yield* batch;
  }
}

/**
 * The records of NDJSON a chunk at a time: for the canonical records files, which JSON.stringify wrote
 * from validated content, where a promise per record costs more than JSON.parse.
 */
export async function* readNdjsonBatches(stream: Readable): AsyncGenerator<JsonRecord[]> {
  let line = 0;
  for await (const lines of lineBatches(stream)) {
    const batch: JsonRecord[] = [];
    for (const text of lines) {
      const json = ndjsonText(text, ++line);
      if (json !== undefined) {
        batch.push(parseNdjsonLine(json, line) as JsonRecord);
      }
    }
    if (batch.length > 0) {
      yield batch;
    }
  }
}

/**
 * The values of NDJSON, one per non-blank line. A line that is not JSON, or nests deeper than
 * MAX_NESTING_DEPTH, is a ContentError naming its line and column.
 */
export async function* ndjsonValues(stream: Readable): AsyncGenerator<{ value: unknown; line: number }> {
  let line = 0;
  for await (const lines of lineBatches(stream)) {
    for (const text of lines) {
      const json = ndjsonText(text, ++line);
      if (json === undefined) {
        continue;
      }
      const tooDeep = deepNestingIn(json, MAX_NESTING_DEPTH);
      if (tooDeep) {
        throw new ContentError(describeDeepNesting('NDJSON', { line, column: tooDeep.column }));
      }
      yield { value: parseNdjsonLine(json, line), line };
    }
  }
}

/** The JSON text of an NDJSON line (without a \r before its \n, nor a BOM on the first line), or undefined for a blank line. */
function ndjsonText(text: string, line: number): string | undefined {
  const trimmed = text.endsWith('\r') ? text.slice(0, -1) : text;
  const json = line === 1 && trimmed.startsWith('\uFEFF') ? trimmed.slice(1) : trimmed;
  return BLANK.test(json) ? undefined : json;
}

const BLANK = /^\s*$/;

function parseNdjsonLine(json: string, line: number): unknown {
  const parsed = parseJson(json);
  if (!parsed.ok) {
    throw new ContentError(`Invalid NDJSON at line ${line}, column ${parsed.column}: ${parsed.reason}`);
  }
  return parsed.value;
}

/**
 * The lines of a UTF-8 stream split on \n, a batch per chunk (the lines it completes; the text after the
 * last \n is the last line). Each character is searched once however long a line is: an unfinished
 * line is kept in parts and joined when it ends.
 */
export async function* lineBatches(stream: Readable): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  let parts: string[] = [];
  try {
    for await (const chunk of stream) {
      const text = decoder.write(chunk as Buffer);
      const lines: string[] = [];
      let start = 0;
      let end: number;
      while ((end = text.indexOf('\n', start)) !== -1) {
        const piece = text.slice(start, end);
        if (parts.length > 0) {
          parts.push(piece);
          lines.push(parts.join(''));
          parts = [];
        } else {
          lines.push(piece);
        }
        start = end + 1;
      }
      if (start < text.length) {
        parts.push(text.slice(start));
      }
      if (lines.length > 0) {
        yield lines;
      }
    }
    parts.push(decoder.end());
    yield [parts.join('')];
  } finally {
    stream.destroy();
  }
}

/** One item of record content: the parsed value (what a JSON Schema sees), its record, and where it is. */
export interface SourceItem {
  value: unknown;
  record: JsonRecord;
  /** Human words for where the item is: "line 3", "element 2". */
  where: string;
  documentKind?: JsonKind;
}

/** The records of JSON, NDJSON or CSV content, streamed. */
export async function* sourceItems(kind: ContentKind, stream: Readable, dialect?: CsvDialect): AsyncGenerator<SourceItem> {
  if (kind === 'json') {
    let index = 0;
    for await (const { documentKind, value } of jsonItems(stream)) {
      yield { value, record: asRecord(value), where: documentKind === 'array' ? `element ${index}` : 'the document', documentKind };
      index++;
    }
  } else if (kind === 'ndjson') {
    for await (const { value, line } of ndjsonValues(stream)) {
      yield { value, record: asRecord(value), where: `line ${line}` };
    }
  } else if (kind === 'csv') {
    if (!dialect) {
      throw new Error('CSV records need a dialect');
    }
    for await (const { record, line } of csvRecords(stream, dialect)) {
      yield { value: record, record, where: `line ${line}` };
    }
  } else {
    stream.destroy();
    throw new Error(`${kind} content has no records`);
  }
}

export function ndjsonStream(records: Iterable<JsonRecord> | AsyncIterable<JsonRecord>): Readable {
  return ndjsonBatchStream(
    (async function* () {
      for await (const record of records) {
        yield [record];
      }
    })(),
  );
}

/** NDJSON of batches of records, in chunks of about 64 KiB: a chunk per record costs the S3 upload a Buffer each. */
export function ndjsonBatchStream(batches: AsyncIterable<JsonRecord[]>): Readable {
  return Readable.from(
    (async function* () {
      let pending = '';
      for await (const batch of batches) {
        for (const record of batch) {
          pending += `${JSON.stringify(record)}\n`;
        }
        if (pending.length >= NDJSON_CHUNK_CHARACTERS) {
          yield pending;
          pending = '';
        }
      }
      if (pending.length > 0) {
        yield pending;
      }
    })(),
    { objectMode: false },
  );
}

const NDJSON_CHUNK_CHARACTERS = 64 * 1024;

export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'null' | 'object' | 'array';

export function typeOf(value: unknown): FieldType {
  if (value === null || value === undefined) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'array';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? 'integer' : 'number';
  }
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'object') {
    return typeof value as FieldType;
  }
  return 'string';
}
