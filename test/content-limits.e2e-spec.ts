import { parse as parseCsv } from 'csv-parse/sync';
import type { ProgressResponse } from '../src/objects/dto/object.responses';
import { MAX_FIELDS, MAX_NESTING_DEPTH, MAX_VALUE_CHARACTERS } from '../src/operations/content/content-limits';
import { SMALL_CONTENT_BYTES } from '../src/worker/job-memory';
import { readS3, readS3Json } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { UploadedFile, submitUpload, waitUntilSettled } from './support/objects';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';

/*
 * Content that used to fail, stall or crash the worker (issue 13), uploaded through the API and run by the
 * real worker against real S3: each now has a clear outcome, and an ordinary object submitted right after
 * it still completes. Then records on each side of 64 KiB (kept in memory, or streamed from S3) go through
 * the whole plan and their export is read back.
 */

let service: TestApp;

beforeAll(async () => {
  service = await startTestApp({ MAX_PARALLEL_WORKERS: '4', LOG_LEVEL: 'error' });
});

afterAll(async () => {
  await service.close();
  await closeDatabase();
});

const ndjson = (text: string): UploadedFile => ({ bytes: Buffer.from(text), contentType: 'application/x-ndjson', ext: 'ndjson' });
const json = (text: string): UploadedFile => ({ bytes: Buffer.from(text), contentType: 'application/json', ext: 'json' });
const csv = (text: string): UploadedFile => ({ bytes: Buffer.from(text), contentType: 'text/csv', ext: 'csv' });
const text = (value: string): UploadedFile => ({ bytes: Buffer.from(value), contentType: 'text/plain', ext: 'txt' });

async function run(label: string, file: UploadedFile, operations: string[], options: Record<string, unknown> = {}) {
  const { id, identifier } = await submitUpload(service.baseUrl, uniqueIdentifier(label), file, operations, options);
  return { id, identifier, progress: await waitUntilSettled(service.baseUrl, id, 60_000) };
}

function expectCompleted(progress: ProgressResponse): void {
  expect({ state: progress.state, error: progress.error_message }).toEqual({ state: 'completed', error: null });
}

/** The object failed in `operation` on its first attempt, and was not retried. */
async function expectFailedAtOnce(id: string, progress: ProgressResponse, operation: string): Promise<string> {
  expect(progress.state).toBe('failed');
  expect(progress.operations_status[operation]).toMatchObject({ completed: false, attempts: 1 });
  const [row] = await query<{ attempts: number }>('select attempts from processing_objects where id = $1', [id]);
  expect(row!.attempts).toBe(1);
  return progress.error_message!;
}

/** An ordinary object submitted now runs its whole plan and exports its records. */
async function expectOrdinaryObjectCompletes(): Promise<void> {
  const { identifier, progress } = await run('ordinary', ndjson('{"a":1}\n{"a":2}\n'), ['export']);
  expectCompleted(progress);
  expect((await readS3(artifact(identifier, 'export/records.ndjson'))).toString()).toBe('{"a":1}\n{"a":2}\n');
}

const artifact = (identifier: string, path: string) => `s3://${service.config.s3.bucket}/${identifier}/${path}`;

const ndjsonLines = async (url: string) =>
  (await readS3(url))
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);

describe('content that used to break the worker has a clear outcome, and the next object completes', () => {
  it('NDJSON of 1,100 lines (more than 1,024 in one chunk) is transformed', async () => {
    const lines = Array.from({ length: 1100 }, (_, index) => JSON.stringify({ a: index }));
    const { identifier, progress } = await run('ndjson-1100', ndjson(`${lines.join('\n')}\n`), ['transform']);
    expectCompleted(progress);
    expect(await ndjsonLines(artifact(identifier, 'transform/records.ndjson'))).toEqual(lines.map((line) => JSON.parse(line) as unknown));
    await expectOrdinaryObjectCompletes();
  });

  it(`20,000 records each with a new field: statistics and schema of the first ${MAX_FIELDS} fields, marked truncated; CSV export refused`, async () => {
    const records = Array.from({ length: 20_000 }, (_, index) => ({ [`k${index}`]: 1 }));
    const content = json(JSON.stringify(records));
    const { progress } = await run('many-fields', content, ['analyze']);
    expectCompleted(progress);
    const analysis = await readS3Json<{ record_count: number; fields: Record<string, unknown>; truncated?: unknown }>(
      progress.s3_artifacts.analyze!,
    );
    expect(analysis.record_count).toBe(20_000);
    expect(Object.keys(analysis.fields)).toEqual(Array.from({ length: MAX_FIELDS }, (_, index) => `k${index}`));
    expect(analysis.truncated).toEqual({ field_limit: MAX_FIELDS });
    expect(analysis.fields.k0).toMatchObject({ count: 20_000, nulls: 19_999, distinct: 1, types: { integer: 1, null: 19_999 } });
    const enrichment = await readS3Json<{ schema: { fields: unknown[]; truncated?: unknown } }>(progress.s3_artifacts.enrich!);
    expect(enrichment.schema.fields).toHaveLength(MAX_FIELDS);
    expect(enrichment.schema.truncated).toEqual({ field_limit: MAX_FIELDS });

    const asCsv = await run('many-fields-csv', content, ['export'], { export: { format: 'csv' } });
    expect(await expectFailedAtOnce(asCsv.id, asCsv.progress, 'export')).toBe(
      `export: export format csv has a column per field, and the records have more than ${MAX_FIELDS} distinct fields: export them as ndjson or json`,
    );
    await expectOrdinaryObjectCompletes();
  });

  it('an 80 KB word then "!" is counted as one term (by its first characters)', async () => {
    const { progress } = await run('long-word', text(`${'a'.repeat(80_000)}!`), ['analyze']);
    expectCompleted(progress);
    const analysis = await readS3Json<{ counts: { words: number }; terms: Record<string, unknown> }>(progress.s3_artifacts.analyze!);
    expect(analysis.counts.words).toBe(1);
    expect(analysis.terms).toEqual({
      total_terms: 1,
      distinct_terms: 1,
      exact: true,
      top_terms: [{ term: 'a'.repeat(MAX_VALUE_CHARACTERS), count: 1 }],
    });
    await expectOrdinaryObjectCompletes();
  });

  it(`JSON nested 100,000 deep fails validate at once, at the bracket past ${MAX_NESTING_DEPTH}`, async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const { id, progress } = await run('deep-json', json(`\n  ${deep}`), ['transform']);
    expect(await expectFailedAtOnce(id, progress, 'validate')).toBe(
      `validate: JSON nesting deeper than ${MAX_NESTING_DEPTH} at line 2, column ${MAX_NESTING_DEPTH + 3}`,
    );
    await expectOrdinaryObjectCompletes();
  });

  it(`an NDJSON record nested past ${MAX_NESTING_DEPTH} fails validate at once, naming its line and column`, async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const { id, progress } = await run('deep-ndjson', ndjson(`{"a":1}\n{"b":${deep}}\n`), ['transform']);
    expect(await expectFailedAtOnce(id, progress, 'validate')).toBe(
      `validate: NDJSON nesting deeper than ${MAX_NESTING_DEPTH} at line 2, column ${MAX_NESTING_DEPTH + 5}`,
    );
    await expectOrdinaryObjectCompletes();
  });

  it(`JSON nested exactly ${MAX_NESTING_DEPTH} deep goes through the whole plan`, async () => {
    const deepest = JSON.parse('['.repeat(MAX_NESTING_DEPTH - 2) + ']'.repeat(MAX_NESTING_DEPTH - 2)) as unknown;
    const { identifier, progress } = await run('deepest-json', json(JSON.stringify([{ deepest }])), ['export'], {
      export: { format: 'json' },
    });
    expectCompleted(progress);
    expect(JSON.parse((await readS3(artifact(identifier, 'export/records.json'))).toString())).toEqual([{ deepest }]);
  });
});

describe('a field named __proto__ is kept, through to every export format', () => {
  it('CSV column → CSV export', async () => {
    const { identifier, progress } = await run('proto-csv', csv('id,__proto__,name\n1,x,Ann\n2,y,Bob\n'), ['export'], {
      export: { format: 'csv' },
    });
    expectCompleted(progress);
    expect((await readS3(artifact(identifier, 'export/records.csv'))).toString()).toBe('id,__proto__,name\n1,x,Ann\n2,y,Bob\n');
    expect((await readS3(artifact(identifier, 'transform/records.ndjson'))).toString()).toBe(
      '{"id":1,"__proto__":"x","name":"Ann"}\n{"id":2,"__proto__":"y","name":"Bob"}\n',
    );
    const analysis = await readS3Json<{ fields: Record<string, unknown> }>(progress.s3_artifacts.analyze!);
    expect(Object.keys(analysis.fields)).toEqual(['id', '__proto__', 'name']);
    await expectOrdinaryObjectCompletes();
  });

  it('NDJSON key → JSON export, and JSON key → NDJSON export', async () => {
    const fromNdjson = await run('proto-ndjson', ndjson('{"__proto__":{"admin":true},"a":1}\n{"a":2}\n'), ['export'], {
      export: { format: 'json' },
    });
    expectCompleted(fromNdjson.progress);
    expect((await readS3(artifact(fromNdjson.identifier, 'export/records.json'))).toString()).toBe(
      '[\n{"__proto__":{"admin":true},"a":1},\n{"a":2}\n]\n',
    );

    const fromJson = await run('proto-json', json('[{"__proto__":5,"a":1},{"a":2,"__proto__":6}]'), ['export'], {
      export: { format: 'csv' },
    });
    expectCompleted(fromJson.progress);
    expect((await readS3(artifact(fromJson.identifier, 'export/records.csv'))).toString()).toBe('__proto__,a\n5,1\n6,2\n');
    const asNdjson = await run('proto-json-ndjson', json('[{"__proto__":5,"a":1}]'), ['export']);
    expectCompleted(asNdjson.progress);
    expect((await readS3(artifact(asNdjson.identifier, 'export/records.ndjson'))).toString()).toBe('{"__proto__":5,"a":1}\n');
  });
});

describe(`records on each side of ${SMALL_CONTENT_BYTES} bytes (kept in memory, or streamed from S3) go through the whole plan`, () => {
  type Format = 'ndjson' | 'csv' | 'json';
  const render = (format: Format, records: { a: number; s: string }[]): UploadedFile => {
    switch (format) {
      case 'ndjson':
        return ndjson(records.map((record) => `${JSON.stringify(record)}\n`).join(''));
      case 'csv':
        return csv(`a,s\n${records.map((record) => `${record.a},${record.s}\n`).join('')}`);
      case 'json':
        return json(`[${records.map((record) => JSON.stringify(record)).join(',\n')}]\n`);
    }
  };
  /** Records whose content is exactly `bytes` long: the last one's string is padded. */
  const sized = (format: Format, bytes: number) => {
    const records = Array.from({ length: Math.floor(bytes / 20) }, (_, index) => ({ a: index, s: 'x' }));
    while (render(format, records).bytes.length > bytes - 50) {
      records.pop();
    }
    records[records.length - 1]!.s += 'x'.repeat(bytes - render(format, records).bytes.length);
    return records;
  };

  const cases: [Format, number][] = (['ndjson', 'csv', 'json'] as const).flatMap((format) => [
    [format, SMALL_CONTENT_BYTES - 1],
    [format, SMALL_CONTENT_BYTES + 1],
  ]);

  it.each(cases)('%s of %i bytes: exported records equal the source records', async (format, bytes) => {
    const records = sized(format, bytes);
    const file = render(format, records);
    expect(file.bytes.length).toBe(bytes);
    const { identifier, progress } = await run(`boundary-${format}`, file, ['export']);
    expectCompleted(progress);
    expect(await ndjsonLines(artifact(identifier, 'export/records.ndjson'))).toEqual(records);
    const validation = await readS3Json<{ record_count: number; size: number }>(progress.s3_artifacts.validate!);
    expect(validation).toMatchObject({ record_count: records.length, size: bytes });
  });

  it.each(['ndjson', 'json', 'csv'] as const)('%s with one record larger than any chunk (200 KiB)', async (format) => {
    const records = [
      { a: 1, s: 'x' },
      { a: 2, s: 'y'.repeat(200 * 1024) },
      { a: 3, s: 'z' },
    ];
    const { identifier, progress } = await run(`big-record-${format}`, render(format, records), ['export'], { export: { format: 'csv' } });
    expectCompleted(progress);
    expect(parseCsv((await readS3(artifact(identifier, 'export/records.csv'))).toString(), { columns: true, cast: true })).toEqual(records);
  });

  it('CSV whose first row is longer than the head validate sniffs: no cell is lost', async () => {
    const long = 'x'.repeat(70 * 1024);
    const { identifier, progress } = await run('csv-long-first-row', csv(`"${long}",1\ny,2\n`), ['export']);
    expectCompleted(progress);
    expect(await ndjsonLines(artifact(identifier, 'export/records.ndjson'))).toEqual([
      { column_1: long, column_2: 1 },
      { column_1: 'y', column_2: 2 },
    ]);
  });
});
