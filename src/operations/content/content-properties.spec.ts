import fc from 'fast-check';
import { parse as parseCsvSync } from 'csv-parse/sync';
import { cutAt, streamOf } from '../../../test/support/chunks';
import type { AppConfig } from '../../config/app-config';
import type { OperationContext, OperationOutcome } from '../operation';
import { ValidateOperation } from '../validate.operation';
import { CsvDialect, checkCsvRecords, csvRecords, inferScalar } from './csv';
import { jsonItems } from './json-stream';
import { ndjsonValues } from './records';

/*
 * Property-based: on random valid content cut into random chunks, the streaming parsers agree with a
 * reference that parses the whole text at once (JSON.parse, csv-parse/sync); random invalid content fails
 * validate with a line and column (a line for CSV, a byte offset and line for text), never with an exception.
 */

const RUNS = { numRuns: 200, seed: 13 };

/** Random cut points: where a stream's chunks end. */
const cuts = fc.array(fc.nat({ max: 4096 }), { maxLength: 40 });

const json = fc.jsonValue({ maxDepth: 4 });

async function collect<T, R>(items: AsyncIterable<T>, pick: (item: T) => R): Promise<R[]> {
  const out: R[] = [];
  for await (const item of items) {
    out.push(pick(item));
  }
  return out;
}

function isValid(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
}

describe('parsers agree with a reference on random valid content in random chunks', () => {
  it('NDJSON: JSON.parse of each non-blank line', async () => {
    const line = fc.tuple(json, fc.constantFrom('\n', '\r\n', '\n\n', ' \n'));
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 30 }), cuts, async (lines, at) => {
        const text = lines.map(([value, end]) => JSON.stringify(value) + end).join('');
        const expected = text
          .split('\n')
          .filter((part) => part.trim() !== '')
          .map((part) => JSON.parse(part) as unknown);
        expect(await collect(ndjsonValues(streamOf(cutAt(Buffer.from(text), at))), (item) => item.value)).toEqual(expected);
      }),
      RUNS,
    );
  });

  it('JSON arrays: JSON.parse of the document', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(json, { maxLength: 30 }), fc.constantFrom(undefined, 0, 2, '\t'), cuts, async (values, indent, at) => {
        const text = JSON.stringify(values, null, indent);
        const parsed = await collect(jsonItems(streamOf(cutAt(Buffer.from(text), at))), (item) => item.value);
        expect(parsed).toEqual(JSON.parse(text));
      }),
      RUNS,
    );
  });

  it('CSV: csv-parse/sync of the whole text, typed by inferScalar', async () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'b', '1', '-', '.', ' ', ',', '"', '\n', 'é'), maxLength: 6 });
    const table = fc
      .integer({ min: 2, max: 5 })
      .chain((width) => fc.array(fc.array(cell, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 20 }));
    const dialect = (width: number): CsvDialect => ({
      delimiter: ',',
      header: false,
      columns: Array.from({ length: width }, (_, index) => `c${index}`),
    });
    const quoted = (value: string) => (/[",\n]|^$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
    await fc.assert(
      fc.asyncProperty(table, fc.constantFrom('\n', '\r\n'), cuts, async (rows, newline, at) => {
        const text = rows.map((row) => row.map(quoted).join(',')).join(newline) + newline;
        const { columns } = dialect(rows[0]!.length);
        const reference = parseCsvSync(text, { delimiter: ',', bom: true, skip_empty_lines: true }).map((row) =>
          Object.fromEntries(columns.map((column, index) => [column, inferScalar(row[index]!)])),
        );
        const bytes = Buffer.from(text);
        const open = () => streamOf(cutAt(bytes, at));
        expect(await collect(csvRecords(open(), dialect(columns.length)), (item) => item.record)).toEqual(reference);
        expect(await checkCsvRecords(open(), dialect(columns.length), () => Promise.resolve(open()))).toBe(reference.length);
      }),
      RUNS,
    );
  });
});

describe('random invalid content fails validate with a position, never with an exception', () => {
  const config = { limits: { uploadBytes: 64 * 1024 * 1024, payloadBytes: 1024 * 1024, imagePixels: 1e8 } } as AppConfig;

  function validate(contentType: string, content: string | Buffer, at: number[]): Promise<OperationOutcome> {
    const bytes = Buffer.from(content);
    const unused = () => Promise.reject(new Error('validate of records does not use this'));
    const context: OperationContext = {
      object: {
        id: 'object',
        identifier: 'random',
        metadata: {},
        options: {},
        source: { content_type: contentType, size: bytes.length, sha256: '', s3_url: 's3://bucket/random' },
        createdAt: new Date(),
        plan: ['validate'],
      },
      signal: new AbortController().signal,
      openContent: () => Promise.resolve(streamOf(cutAt(bytes, at))),
      contentFile: unused,
      shareInJob: unused,
      sharedInJob: unused,
      readResult: unused,
      openFile: unused,
      copyFile: unused,
      writeFile: unused,
      listArtifacts: unused,
      reportProgress: () => Promise.resolve(),
    };
    return new ValidateOperation(config).run(context);
  }

  /** Valid text with one character inserted, replaced or removed at a random place. */
  const mutated = (valid: fc.Arbitrary<string>, alphabet: string[]) =>
    fc
      .tuple(valid, fc.nat(), fc.constantFrom(...alphabet), fc.constantFrom('insert', 'replace', 'remove'))
      .map(([text, position, character, how]) => {
        const index = text.length === 0 ? 0 : position % text.length;
        if (how === 'remove') {
          return text.slice(0, index) + text.slice(index + 1);
        }
        return text.slice(0, index) + character + text.slice(how === 'replace' ? index + 1 : index);
      });

  const SYNTAX = ['{', '}', '[', ']', '"', ',', ':', '\\', 'x', '1', '\n', ' '];

  it('JSON: line and column', async () => {
    const valid = fc.array(json, { maxLength: 10 }).map((values) => JSON.stringify(values, null, 1));
    await fc.assert(
      fc.asyncProperty(mutated(valid, SYNTAX), cuts, async (text, at) => {
        fc.pre(!isValid(() => JSON.parse(text)) && text.trim() !== '');
        const outcome = await validate('application/json', text, at);
        expect(outcome).toEqual({
          status: 'failed',
          reason: expect.stringMatching(/^Invalid JSON at line \d+, column \d+: .+/) as unknown,
        });
      }),
      RUNS,
    );
  });

  it('NDJSON: line and column', async () => {
    const valid = fc.array(json, { minLength: 1, maxLength: 10 }).map((values) => values.map((value) => JSON.stringify(value)).join('\n'));
    await fc.assert(
      fc.asyncProperty(mutated(valid, SYNTAX), cuts, async (text, at) => {
        fc.pre(!text.split('\n').every((line) => line.trim() === '' || isValid(() => JSON.parse(line))));
        const outcome = await validate('application/x-ndjson', text, at);
        expect(outcome).toEqual({
          status: 'failed',
          reason: expect.stringMatching(/^Invalid NDJSON at line \d+, column \d+: .+/) as unknown,
        });
      }),
      RUNS,
    );
  });

  it('CSV: line', async () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'b', '1', ' ', 'é'), maxLength: 5 });
    const valid = fc
      .integer({ min: 2, max: 4 })
      .chain((width) => fc.array(fc.array(cell, { minLength: width, maxLength: width }), { minLength: 2, maxLength: 10 }))
      .map((rows) => rows.map((row) => row.map((value) => `"${value}"`).join(',')).join('\n') + '\n');
    await fc.assert(
      fc.asyncProperty(mutated(valid, ['"', ',', '\n', 'x']), cuts, async (text, at) => {
        fc.pre(!isValid(() => parseCsvSync(text, { delimiter: ',', bom: true, skip_empty_lines: true })));
        const outcome = await validate('text/csv', text, at);
        expect(outcome).toEqual({
          status: 'failed',
          reason: expect.stringMatching(/^Invalid CSV at line \d+(, field \d+)?: .+/) as unknown,
        });
      }),
      RUNS,
    );
  });

  it('text with a byte sequence that is not UTF-8: its byte offset and line', async () => {
    const valid = fc.string({ unit: fc.constantFrom('a', ' ', '\n', 'é', '€', '😀'), maxLength: 200 });
    const bad = fc.constantFrom([0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80]);
    await fc.assert(
      fc.asyncProperty(valid, bad, valid, cuts, async (before, badBytes, after, at) => {
        const bytes = Buffer.concat([Buffer.from(before), Buffer.from(badBytes), Buffer.from(`x${after}`)]);
        const outcome = await validate('text/plain', bytes, at);
        const line = before.split('\n').length;
        expect(outcome).toEqual({ status: 'failed', reason: `Invalid UTF-8 at byte ${Buffer.byteLength(before)} (line ${line})` });
      }),
      RUNS,
    );
  });

  it('JSON and NDJSON nested too deep: line and column', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 257, max: 5000 }), fc.nat({ max: 3 }), cuts, async (depth, blankLines, at) => {
        const deep = '['.repeat(depth) + ']'.repeat(depth);
        const line = blankLines + 1;
        expect(await validate('application/json', '\n'.repeat(blankLines) + deep, at)).toEqual({
          status: 'failed',
          reason: `JSON nesting deeper than 256 at line ${line}, column 257`,
        });
        expect(await validate('application/x-ndjson', '{}\n'.repeat(blankLines) + `{"a":${deep}}\n`, at)).toEqual({
          status: 'failed',
          reason: `NDJSON nesting deeper than 256 at line ${line}, column 261`,
        });
      }),
      { ...RUNS, numRuns: 50 },
    );
  });
});
