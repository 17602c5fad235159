import type { Readable } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { ContentError } from './content-error';
import type { JsonRecord } from './records';

/** How a CSV file is written, as found by sniffing its first lines. */
export interface CsvDialect {
  delimiter: string;
  header: boolean;
  columns: string[];
}

export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const;
const SNIFF_LINES = 50;

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;

/**
 * The scalar a CSV cell most likely stands for: '' is null, true/false (any case) are booleans,
 * decimal numbers that survive a round trip are numbers (so '007' and 20-digit ids stay strings),
 * everything else is the string itself.
 */
export function inferScalar(cell: string): string | number | boolean | null {
  if (cell === '') {
    return null;
  }
  // Called for every cell of large files: cheap character tests first, the regular expressions only for what can be a number.
  const first = cell.charCodeAt(0);
  if (cell.length === 4 || cell.length === 5) {
    const lower = cell.toLowerCase();
    if (lower === 'true') {
      return true;
    }
    if (lower === 'false') {
      return false;
    }
  }
  if (((first >= 48 && first <= 57) || first === 45) && NUMBER.test(cell)) {
    const value = Number(cell);
    if (Number.isFinite(value) && (!INTEGER.test(cell) || Number.isSafeInteger(value))) {
      return value;
    }
  }
  return cell;
}

/**
 * Finds the delimiter and whether the first row is a header, from the first lines of a file.
 * Each candidate delimiter parses the sample; the one that parses without errors into rows
 * of one consistent width (of at least two fields) wins, preferring more fields, then the
 * order , ; tab |. The first row is a header when its cells are non-empty, distinct and
 * none of them is a number or a boolean.
 */
export function sniffCsvDialect(sample: string): CsvDialect {
  const text = sample.replace(/^\uFEFF/, '');
  let best: { delimiter: string; rows: string[][]; score: number[] } | undefined;
  for (const delimiter of CSV_DELIMITERS) {
    const rows = sampleRows(text, delimiter);
    if (!rows) {
      continue;
    }
    const widths = rows.map((row) => row.length);
    const mode = modeOf(widths);
    const consistent = widths.filter((width) => width === mode).length / Math.max(widths.length, 1);
    const score = [mode >= 2 ? 1 : 0, consistent, mode];
    if (!best || compareScores(score, best.score) > 0) {
      best = { delimiter, rows, score };
    }
  }
  const delimiter = best && best.score[0] === 1 ? best.delimiter : ',';
  const rows = best && best.delimiter === delimiter ? best.rows : (sampleRows(text, ',') ?? []);
  const first = rows[0] ?? [];
  const header = looksLikeHeader(first);
  return { delimiter, header, columns: header ? columnNames(first) : first.map((_, index) => `column_${index + 1}`) };
}

function sampleRows(text: string, delimiter: string): string[][] | undefined {
  try {
    return parseSync(text, { delimiter, relax_column_count: true, skip_empty_lines: true, to_line: SNIFF_LINES });
  } catch {
    // Not CSV with this delimiter: the sniffer weighs the others.
    return undefined;
  }
}

function modeOf(values: number[]): number {
  const counts = new Map<number, number>();
  values.forEach((value) => counts.set(value, (counts.get(value) ?? 0) + 1));
  let mode = 0;
  let modeCount = 0;
  for (const [value, count] of counts) {
    if (count > modeCount || (count === modeCount && value > mode)) {
      mode = value;
      modeCount = count;
    }
  }
  return mode;
}

function compareScores(a: number[], b: number[]): number {
  for (const [index, value] of a.entries()) {
    const difference = value - (b[index] ?? 0);
    if (difference !== 0) {
      return difference;
    }
  }
  return 0;
}

function looksLikeHeader(row: string[]): boolean {
  if (row.length === 0) {
    return false;
  }
  const cells = row.map((cell) => cell.trim());
  return cells.every((cell) => cell !== '' && typeof inferScalar(cell) === 'string') && new Set(cells).size === cells.length;
}

/** Header cells as field names: trimmed, empty ones named by position, duplicates numbered. */
export function columnNames(row: string[]): string[] {
  const seen = new Map<string, number>();
  return row.map((cell, index) => {
    const base = cell.trim() || `column_${index + 1}`;
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : `${base}_${count}`;
  });
}

export interface CsvRecord {
  record: JsonRecord;
  /** The line on which the record ends (records may span lines inside quotes). */
  line: number;
}

/**
 * The records of a CSV stream, typed by `inferScalar`, keyed by the dialect's columns. Parsing
 * is strict: every row must be as wide as the first and quotes must be well formed. Errors are
 * ContentErrors that name the line.
 */
export async function* csvRecords(stream: Readable, dialect: CsvDialect): AsyncGenerator<CsvRecord> {
  const parser = stream.pipe(parse({ delimiter: dialect.delimiter, bom: true, skip_empty_lines: true, info: true }));
  stream.on('error', (error) => parser.destroy(error));
  let first = true;
  try {
    for await (const rows of readableBatches<{ record: string[]; info: { lines: number } }>(parser)) {
      for (const { record, info } of rows) {
        if (first) {
          first = false;
          if (dialect.header) {
            continue;
          }
        }
        yield { record: typedRecord(dialect.columns, record), line: info.lines };
      }
    }
  } catch (error) {
    throw asContentError(error);
  } finally {
    stream.destroy();
  }
}

/**
 * The typed records of a CSV stream as `csvRecords` has them, without their lines, a batch per
 * chunk of input: for large files, where a promise and an info object per record cost more than the parsing.
 */
export async function* csvRecordBatches(stream: Readable, dialect: CsvDialect): AsyncGenerator<JsonRecord[]> {
  let first = true;
  for await (const rows of csvRowBatches(stream, dialect)) {
    const records: JsonRecord[] = [];
    for (const row of rows) {
      if (first) {
        first = false;
        if (dialect.header) {
          continue;
        }
      }
      records.push(typedRecord(dialect.columns, row));
    }
    if (records.length > 0) {
      yield records;
    }
  }
}

/** Parses a whole CSV stream as strictly as `csvRecords` and counts its records, without typing them. */
export async function countCsvRecords(
  stream: Readable,
  dialect: CsvDialect,
  onBatch?: (records: number) => Promise<void>,
): Promise<number> {
  let rows = 0;
  const records = () => (dialect.header ? Math.max(rows - 1, 0) : rows);
  for await (const batch of csvRowBatches(stream, dialect)) {
    rows += batch.length;
    await onBatch?.(records());
  }
  return records();
}

/** What `CsvScanner` finds: the records of CSV proven well-formed, or `undefined` when csv-parse must decide. */
export type CsvScan = number | undefined;

const QUOTE = 0x22;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
enum ScanState {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
}

/**
 * A strict CSV check of the common case, a byte at a time, many times faster than csv-parse: \n line
 * endings, fields either unquoted without quotes or quoted with "" escapes, every non-empty line as wide
 * as the first. Whatever it accepts, csv-parse with the options of `csvRecords` accepts with the same
 * number of records; anything else (a \r, a stray quote, a ragged row, an open quote at the end) makes it
 * give up, and csv-parse decides and names the error.
 */
export class CsvScanner {
  private state = ScanState.FieldStart;
  private fields = 0;
  private width = -1;
  private rows = 0;
  private lineHasContent = false;
  private quotedEmpty = false;
  private started = false;
  private gaveUp = false;
  private readonly delimiter: number;

  constructor(dialect: CsvDialect) {
    this.delimiter = dialect.delimiter.length === 1 ? dialect.delimiter.charCodeAt(0) : -1;
    this.gaveUp = this.delimiter === -1 || this.delimiter >= 0x80;
  }

  /** False once it has given up. */
  write(chunk: Buffer): boolean {
    if (this.gaveUp) {
      return false;
    }
    let start = 0;
    if (!this.started) {
      this.started = true;
      if (chunk.length < 3) {
        return this.giveUp();
      }
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
        start = 3;
      }
    }
    const delimiter = this.delimiter;
    let { state, fields, lineHasContent, quotedEmpty } = this;
    for (let index = start; index < chunk.length; index++) {
      const byte = chunk[index];
      if (byte === CARRIAGE_RETURN) {
        return this.giveUp();
      }
      switch (state) {
        case ScanState.FieldStart:
          if (byte === QUOTE) {
            state = ScanState.Quoted;
            quotedEmpty = true;
            lineHasContent = true;
          } else if (byte === delimiter) {
            fields++;
            lineHasContent = true;
          } else if (byte === NEWLINE) {
            if (lineHasContent) {
              if (!this.endRecord(fields + 1)) {
                return false;
              }
              fields = 0;
              lineHasContent = false;
            }
          } else {
            state = ScanState.Unquoted;
            lineHasContent = true;
          }
          break;
        case ScanState.Unquoted:
          if (byte === delimiter) {
            fields++;
            state = ScanState.FieldStart;
          } else if (byte === NEWLINE) {
            if (!this.endRecord(fields + 1)) {
              return false;
            }
            fields = 0;
            lineHasContent = false;
            state = ScanState.FieldStart;
          } else if (byte === QUOTE) {
            return this.giveUp();
          }
          break;
        case ScanState.Quoted:
          if (byte === QUOTE) {
            state = ScanState.QuoteInQuoted;
          } else {
            quotedEmpty = false;
          }
          break;
        case ScanState.QuoteInQuoted:
          if (byte === QUOTE) {
            quotedEmpty = false;
            state = ScanState.Quoted;
          } else if (byte === delimiter) {
            fields++;
            state = ScanState.FieldStart;
          } else if (byte === NEWLINE) {
            // A line of one empty quoted field: csv-parse's empty-line rules are not worth guessing.
            if (fields === 0 && quotedEmpty) {
              return this.giveUp();
            }
            if (!this.endRecord(fields + 1)) {
              return false;
            }
            fields = 0;
            lineHasContent = false;
            state = ScanState.FieldStart;
          } else {
            return this.giveUp();
          }
          break;
      }
    }
    Object.assign(this, { state, fields, lineHasContent, quotedEmpty });
    return true;
  }

  /** The records (a header row included), or undefined when csv-parse must decide. */
  end(): CsvScan {
    if (this.gaveUp || !this.started) {
      return undefined;
    }
    switch (this.state) {
      case ScanState.Quoted:
        return undefined;
      case ScanState.QuoteInQuoted:
        if (this.fields === 0 && this.quotedEmpty) {
          return undefined;
        }
        return this.endRecord(this.fields + 1) ? this.rows : undefined;
      case ScanState.Unquoted:
        return this.endRecord(this.fields + 1) ? this.rows : undefined;
      case ScanState.FieldStart:
        return !this.lineHasContent || this.endRecord(this.fields + 1) ? this.rows : undefined;
    }
  }

  private endRecord(fields: number): boolean {
    if (this.width === -1) {
      this.width = fields;
    } else if (fields !== this.width) {
      return this.giveUp();
    }
    this.rows++;
    return true;
  }

  private giveUp(): false {
    this.gaveUp = true;
    return false;
  }
}

/**
 * Proves a CSV stream well-formed and counts its records (the header excluded), reading it to the end:
 * with `CsvScanner` when it can, else by parsing the content of `reopen()` with csv-parse.
 */
export async function checkCsvRecords(
  stream: Readable,
  dialect: CsvDialect,
  reopen: () => Promise<Readable>,
  onProgress?: (records: number) => Promise<void>,
): Promise<number> {
  const scanner = new CsvScanner(dialect);
  let scanning = true;
  try {
    for await (const chunk of stream) {
      // After giving up, the rest is still read: the caller measures (hashes) the stream as it goes.
      if (scanning) {
        scanning = scanner.write(chunk as Buffer);
      }
      await onProgress?.(0);
    }
  } finally {
    stream.destroy();
  }
  const rows = scanner.end();
  if (rows !== undefined) {
    return dialect.header ? Math.max(rows - 1, 0) : rows;
  }
  return countCsvRecords(await reopen(), dialect, onProgress);
}

async function* csvRowBatches(stream: Readable, dialect: CsvDialect): AsyncGenerator<string[][]> {
  const parser = stream.pipe(parse({ delimiter: dialect.delimiter, bom: true, skip_empty_lines: true }));
  stream.on('error', (error) => parser.destroy(error));
  try {
    yield* readableBatches<string[]>(parser);
  } catch (error) {
    throw asContentError(error);
  } finally {
    stream.destroy();
  }
}

/**
 * A row as a record keyed by the dialect's columns. Cells past them are named by position: when the first
 * row is longer than the head that was sniffed, the dialect has no columns, and the cells must not be lost.
 */
function typedRecord(columns: string[], row: string[]): JsonRecord {
  const typed: JsonRecord = {};
  const width = Math.max(columns.length, row.length);
  for (let index = 0; index < width; index++) {
    const column = columns[index] ?? `column_${index + 1}`;
    const value = inferScalar(row[index] ?? '');
    // An assignment to __proto__ would set the prototype and lose the field: it is defined as an own property, as JSON.parse does.
    if (column === '__proto__') {
      Object.defineProperty(typed, column, { value, enumerable: true, writable: true, configurable: true });
    } else {
      typed[column] = value;
    }
  }
  return typed;
}

function asContentError(error: unknown): unknown {
  return error instanceof CsvError ? new ContentError(describeCsvError(error)) : error;
}

/**
 * The objects of an object-mode stream, as many at a time as it has buffered: `for await` over the
 * stream itself costs a promise per object. Backpressure is kept: nothing more is read until the batch is consumed.
 */
export async function* readableBatches<T>(stream: Readable): AsyncGenerator<T[]> {
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onEvent = () => wake?.();
  const onError = (error: Error) => {
    failure ??= error;
    onEvent();
  };
  stream.on('readable', onEvent);
  stream.on('end', onEvent);
  stream.on('close', onEvent);
  stream.on('error', onError);
  try {
    for (;;) {
      if (failure !== undefined) {
        throw failure;
      }
      const batch: T[] = [];
      let item: T | null;
      while ((item = stream.read() as T | null) !== null) {
        batch.push(item);
      }
      if (batch.length > 0) {
        yield batch;
        continue;
      }
      if (stream.readableEnded) {
        return;
      }
      if (stream.destroyed) {
        throw failure ?? new Error('the stream was destroyed before it ended');
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stream.off('readable', onEvent);
    stream.off('end', onEvent);
    stream.off('close', onEvent);
    stream.off('error', onError);
    stream.destroy();
  }
}

export function describeCsvError(error: CsvError): string {
  const details = error as CsvError & { lines?: number; column?: number };
  const field = typeof details.column === 'number' ? `, field ${details.column + 1}` : '';
  if (error.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
    const match = /expect (\d+), got (\d+)/.exec(error.message);
    const reason = match ? `the row has ${match[2]} field(s), expected ${match[1]} like the first row` : error.message;
    return `Invalid CSV at line ${details.lines}: ${reason}`;
  }
  if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
    return `Invalid CSV at line ${details.lines}: a quoted field is never closed`;
  }
  if (error.code === 'CSV_INVALID_CLOSING_QUOTE') {
    const got = /got "(.*?)"/.exec(error.message)?.[1];
    return `Invalid CSV at line ${details.lines}${field}: unexpected ${got ? JSON.stringify(got) : 'character'} after a closing quote`;
  }
  if (error.code === 'INVALID_OPENING_QUOTE') {
    return `Invalid CSV at line ${details.lines}${field}: a quote inside an unquoted field`;
  }
  return `Invalid CSV at line ${details.lines}: ${error.message.replace(/ (?:on|at) line \d+.*$/, '')}`;
}
