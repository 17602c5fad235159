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

/**
 * The scalar a CSV cell most likely stands for: '' is null, true/false (any case) are booleans,
 * decimal numbers that survive a round trip are numbers (so '007' and 20-digit ids stay strings),
 * everything else is the string itself.
 */
export function inferScalar(cell: string): string | number | boolean | null {
  if (cell === '') return null;
  const lower = cell.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (NUMBER.test(cell)) {
    const value = Number(cell);
    if (Number.isFinite(value) && (!/^-?\d+$/.test(cell) || Number.isSafeInteger(value))) {
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
    if (!rows) continue;
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
    return parseSync(text, { delimiter, relax_column_count: true, skip_empty_lines: true, to_line: SNIFF_LINES }) as string[][];
  } catch {
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
  for (let index = 0; index < a.length; index++) {
    if (a[index] !== b[index]) return a[index] - b[index];
  }
  return 0;
}

function looksLikeHeader(row: string[]): boolean {
  if (row.length === 0) return false;
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
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (first) {
        first = false;
        if (dialect.header) continue;
      }
      const typed: JsonRecord = {};
      dialect.columns.forEach((column, index) => (typed[column] = inferScalar(record[index] ?? '')));
      yield { record: typed, line: info.lines };
    }
  } catch (error) {
    if (error instanceof CsvError) {
      throw new ContentError(describeCsvError(error));
    }
    throw error;
  } finally {
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
