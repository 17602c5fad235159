import { chunksOf, streamOf } from '../../../test/support/chunks';
import { CsvDialect, checkCsvRecords, csvRecordBatches, csvRecords } from './csv';
import { jsonItems } from './json-stream';
import { JsonRecord, ndjsonValues, readNdjsonBatches, sourceItems } from './records';

/*
 * Every streaming parser of records, on content sized on each side of the service's internal buffers:
 * 1,024 lines (readline's high-water mark, where NDJSON used to break), 64 KiB (the content kept in memory,
 * the head validate reads, the default stream chunk), and a record larger than any chunk. Each is read as
 * one buffer and as a stream of small and odd chunks.
 */

type Format = 'ndjson' | 'csv' | 'json';
const KiB = 1024;
const CSV: CsvDialect = { delimiter: ',', header: true, columns: ['a', 's'] };

function render(format: Format, records: JsonRecord[]): Buffer {
  switch (format) {
    case 'ndjson':
      return Buffer.from(records.map((record) => `${JSON.stringify(record)}\n`).join(''));
    case 'csv':
      return Buffer.from(`a,s\n${records.map((record) => `${String(record.a)},${String(record.s)}\n`).join('')}`);
    case 'json':
      return Buffer.from(`[${records.map((record) => JSON.stringify(record)).join(',\n')}]\n`);
  }
}

const counted = (count: number): JsonRecord[] => Array.from({ length: count }, (_, index) => ({ a: index, s: 'x' }));

/** Records whose rendering is exactly `bytes` long: the last record's string is padded. */
function sized(format: Format, bytes: number): JsonRecord[] {
  const records = counted(Math.floor(bytes / 20));
  while (render(format, records).length > bytes - 50) {
    records.pop();
  }
  const last = records[records.length - 1];
  last!.s = `${String(last!.s)}${'x'.repeat(bytes - render(format, records).length)}`;
  expect(render(format, records).length).toBe(bytes);
  return records;
}

const CONTENTS: [string, (format: Format) => JsonRecord[]][] = [
  ['1,023 records', () => counted(1023)],
  ['1,024 records', () => counted(1024)],
  ['1,025 records', () => counted(1025)],
  // readline paused its async iterator past 1,024 queued lines, and broke on the 1,026th when the input had ended.
  ['1,026 records', () => counted(1026)],
  ['64 KiB - 1 bytes', (format) => sized(format, 64 * KiB - 1)],
  ['64 KiB', (format) => sized(format, 64 * KiB)],
  ['64 KiB + 1 bytes', (format) => sized(format, 64 * KiB + 1)],
  [
    'a record larger than a chunk',
    () => [
      { a: 1, s: 'x' },
      { a: 2, s: 'y'.repeat(200 * KiB) },
      { a: 3, s: 'z' },
    ],
  ],
];

const CHUNK_SIZES = [Infinity, 7, 1021, 64 * KiB, 64 * KiB + 1];

/** Consumes like the operations do, which wait for S3 between records: the parser's input runs ahead of it. */
async function collect<T, R>(items: AsyncIterable<T>, pick: (item: T) => R): Promise<R[]> {
  const out: R[] = [];
  for await (const item of items) {
    out.push(pick(item));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return out;
}

const flat = async (batches: AsyncIterable<JsonRecord[]>) => (await collect(batches, (batch) => batch)).flat();

const PARSERS: [Format, string, (chunks: Buffer[]) => Promise<unknown>][] = [
  ['ndjson', 'ndjsonValues', (chunks) => collect(ndjsonValues(streamOf(chunks)), (item) => item.value)],
  ['ndjson', 'readNdjsonBatches', (chunks) => flat(readNdjsonBatches(streamOf(chunks)))],
  ['ndjson', 'sourceItems', (chunks) => collect(sourceItems('ndjson', streamOf(chunks)), (item) => item.record)],
  ['csv', 'csvRecords', (chunks) => collect(csvRecords(streamOf(chunks), CSV), (item) => item.record)],
  ['csv', 'csvRecordBatches', (chunks) => flat(csvRecordBatches(streamOf(chunks), CSV))],
  ['csv', 'sourceItems', (chunks) => collect(sourceItems('csv', streamOf(chunks), CSV), (item) => item.record)],
  ['json', 'jsonItems', (chunks) => collect(jsonItems(streamOf(chunks)), (item) => item.value)],
  ['json', 'sourceItems', (chunks) => collect(sourceItems('json', streamOf(chunks)), (item) => item.record)],
];

describe.each(PARSERS)('%s through %s', (format, _name, parse) => {
  it.each(CONTENTS)('%s, whole and in chunks of 7, 1,021, 64 KiB and 64 KiB + 1 bytes', async (_content, make) => {
    const records = make(format);
    const bytes = render(format, records);
    for (const size of CHUNK_SIZES) {
      expect({ size, records: await parse(chunksOf(bytes, size)) }).toEqual({ size, records });
    }
  });
});

describe('checkCsvRecords (validate: a byte scan, or csv-parse when the scan gives up)', () => {
  it.each(CONTENTS)('%s: counts every record, whole and in chunks', async (_content, make) => {
    const records = make('csv');
    const bytes = render('csv', records);
    // The same records with \r\n line endings, which the scan leaves to csv-parse.
    const crlf = Buffer.from(bytes.toString().replace(/\n/g, '\r\n'));
    for (const content of [bytes, crlf]) {
      for (const size of CHUNK_SIZES) {
        const open = () => streamOf(chunksOf(content, size));
        expect({ size, count: await checkCsvRecords(open(), CSV, () => Promise.resolve(open())) }).toEqual({ size, count: records.length });
      }
    }
  });
});
