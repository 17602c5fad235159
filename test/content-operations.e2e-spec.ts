import { parse as parseCsv } from 'csv-parse/sync';
import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import request from 'supertest';
import type { ProgressResponse } from '../src/objects/dto/object.responses';
import type { components } from './support/api-types';
import { readS3, readS3Json } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { UploadedFile, submitUpload, waitUntilSettled } from './support/objects';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';

/*
 * validate, transform, enrich, analyze, export and thumbnail on real content (CSV, NDJSON, JSON,
 * text, images), uploaded through the API as multipart/form-data and run by the real worker
 * against real S3.
 */

let service: TestApp;

/** Past the prefix an upload is sniffed on, so the upload is accepted and validate finds the bad bytes. */
const VALID_TEXT_BEFORE_BAD_BYTES = `${'a fine line of text\n'.repeat(300)}second `;

/** Uploads `bytes` as the object's file through POST /api/v1/process and returns the new object. */
async function submitWithSource(
  label: string,
  file: UploadedFile,
  operations: string[],
  options: Record<string, unknown> = {},
): Promise<{ id: string; identifier: string }> {
  const submitted = await submitUpload(service.baseUrl, uniqueIdentifier(label), file, operations, options);
  const row = await query<{ source: { sha256: string; size: number } }>('select source from processing_objects where id = $1', [
    submitted.id,
  ]);
  expect(row[0]!.source).toMatchObject({ sha256: sha256(file.bytes), size: file.bytes.length });
  return submitted;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const settled = (id: string) => waitUntilSettled(service.baseUrl, id, 45_000);

/** A PNG whose header declares width x height but carries almost no pixel data: tiny on disk, huge decoded. */
function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(width + 1))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const canvas = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 40 } } }).composite([
    // A blue left half, so orientation and colours are visible in the output.
    { input: { create: { width: Math.floor(width / 2), height, channels: 3, background: { r: 30, g: 60, b: 220 } } }, left: 0, top: 0 },
  ]);

// ---- fixtures -----------------------------------------------------------------------------

const CSV_ROWS = [
  { name: 'Ann', note: 'likes ; semicolons', amount: 12.5, active: true, code: '007' },
  { name: 'Bob "the builder"', note: 'two\nlines', amount: -3, active: false, code: '12' },
  { name: 'Çelik', note: '', amount: 100, active: true, code: 'x1' },
  { name: 'Dana', note: 'plain', amount: 0.25, active: false, code: '' },
];
const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;
const CSV_TEXT =
  '\uFEFFname;note;amount;active;code\r\n' +
  CSV_ROWS.map((row) =>
    [quote(row.name), row.note ? quote(row.note) : '', String(row.amount), String(row.active), row.code].join(';'),
  ).join('\r\n') +
  '\r\n';

const NDJSON_RECORDS = Array.from({ length: 250 }, (_, index) => ({
  id: index + 1,
  group: ['a', 'b', 'c'][index % 3],
  score: (index * 7) % 101,
  ok: index % 2 === 0,
}));
const NDJSON_TEXT = NDJSON_RECORDS.map((record, index) => JSON.stringify(record) + (index % 50 === 0 ? '\r\n\n' : '\n')).join('');

const JSON_ARRAY = [{ city: 'Oslo', temp: 4 }, { city: 'Rome', temp: 18.5, extra: [1, 2] }, 'a bare string', { city: 'Lima', temp: null }];

const TEXT_SOURCE = 'Cafe\u0301 au lait\r\nThe cafe\u0301 opens at 8.\rThe end — the END\r\n';
const TEXT_CANONICAL = 'Café au lait\nThe café opens at 8.\nThe end — the END\n';

const cases: Record<string, Promise<{ id: string; identifier: string }>> = {};
function submitted(name: string): Promise<{ id: string; identifier: string }> {
  const found = cases[name];
  if (!found) {
    throw new Error(`No case named ${name} was submitted in beforeAll`);
  }
  return found;
}

beforeAll(async () => {
  service = await startTestApp({ MAX_PARALLEL_WORKERS: '6', LOG_LEVEL: 'error' });

  const jpegOriented = await canvas(2000, 1000).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const png = await canvas(2000, 1000).png().toBuffer();
  const smallWebp = await canvas(80, 60).webp().toBuffer();
  const gif = await canvas(400, 200).gif().toBuffer();
  const avif = await canvas(640, 480).avif().toBuffer();
  const tiff = await canvas(500, 250).tiff().toBuffer();
  const noisy = await sharp({
    create: { width: 300, height: 300, channels: 3, background: 'white', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
  })
    .png()
    .toBuffer();
  const csv = (text: string) => ({ bytes: Buffer.from(text), contentType: 'text/csv', ext: 'csv' });

  const submissions: Record<string, () => Promise<{ id: string; identifier: string }>> = {
    csv: () => submitWithSource('csv', csv(CSV_TEXT), ['export'], { export: { format: 'csv' } }),
    ndjson: () =>
      submitWithSource('ndjson', { bytes: Buffer.from(NDJSON_TEXT), contentType: 'application/x-ndjson', ext: 'ndjson' }, ['analyze'], {
        validate: { json_schema: { type: 'object', required: ['id', 'score'], properties: { score: { type: 'integer' } } } },
      }),
    json: () =>
      submitWithSource('json', { bytes: Buffer.from(JSON.stringify(JSON_ARRAY, null, 2)), contentType: 'application/json', ext: 'json' }, [
        'export',
      ]),
    text: () => submitWithSource('text', { bytes: Buffer.from(TEXT_SOURCE), contentType: 'text/plain', ext: 'txt' }, ['export']),
    jpeg: () => submitWithSource('jpeg', { bytes: jpegOriented, contentType: 'image/jpeg', ext: 'jpg' }, ['thumbnail', 'enrich']),
    png: () => submitWithSource('png', { bytes: png, contentType: 'image/png', ext: 'png' }, ['thumbnail', 'export']),
    webp: () => submitWithSource('webp', { bytes: smallWebp, contentType: 'image/webp', ext: 'webp' }, ['thumbnail']),
    gif: () => submitWithSource('gif', { bytes: gif, contentType: 'image/gif', ext: 'gif' }, ['thumbnail', 'analyze']),
    avif: () => submitWithSource('avif', { bytes: avif, contentType: 'image/avif', ext: 'avif' }, ['thumbnail']),
    tiff: () =>
      submitWithSource('tiff', { bytes: tiff, contentType: 'image/tiff', ext: 'tiff' }, ['thumbnail'], {
        thumbnail: {
          sizes: [
            [64, 64],
            [250, 1000],
          ],
        },
      }),
    // Malformed content.
    truncatedJson: () =>
      submitWithSource(
        'bad-json',
        { bytes: Buffer.from('[\n  {"a": 1},\n  {"b": [1, 2,\n'), contentType: 'application/json', ext: 'json' },
        ['analyze'],
      ),
    raggedCsv: () => submitWithSource('ragged-csv', csv('a,b,c\n1,2,3\n4,5\n6,7,8\n'), ['transform']),
    badQuoteCsv: () => submitWithSource('bad-quote-csv', csv('a,b\n1,2\n3,"x"y\n'), ['transform']),
    schemaNdjson: () =>
      submitWithSource(
        'schema-ndjson',
        { bytes: Buffer.from('{"count": 1}\n{"count": "two"}\n'), contentType: 'application/x-ndjson', ext: 'ndjson' },
        ['validate'],
        {
          validate: { json_schema: { type: 'object', properties: { count: { type: 'integer' } } } },
        },
      ),
    invalidUtf8: () =>
      submitWithSource(
        'bad-utf8',
        {
          bytes: Buffer.concat([Buffer.from(VALID_TEXT_BEFORE_BAD_BYTES), Buffer.from([0xff, 0xfe]), Buffer.from(' line\n')]),
          contentType: 'text/plain',
          ext: 'txt',
        },
        ['transform'],
      ),
    corruptPng: () =>
      submitWithSource('corrupt-png', { bytes: noisy.subarray(0, Math.floor(noisy.length * 0.6)), contentType: 'image/png', ext: 'png' }, [
        'thumbnail',
      ]),
    bomb: () => submitWithSource('bomb', { bytes: pngDeclaring(30_000, 30_000), contentType: 'image/png', ext: 'png' }, ['thumbnail']),
    thumbnailOfCsv: () => submitWithSource('thumb-csv', csv('a,b\n1,2\n'), ['thumbnail']),
  };
  for (const [name, submit] of Object.entries(submissions)) {
    cases[name] = submit();
  }
  await Promise.all(Object.values(cases));
});

afterAll(async () => {
  await service.close();
  await closeDatabase();
});

const artifact = (identifier: string, path: string) => `s3://${service.config.s3.bucket}/${identifier}/${path}`;

async function completedCase(name: string) {
  const { id, identifier } = await submitted(name);
  const progress = await settled(id);
  expect({ state: progress.state, error: progress.error_message }).toEqual({ state: 'completed', error: null });
  return { id, identifier, progress };
}

describe('records', () => {
  it('CSV with a BOM, ; delimiter, header and quoted fields: detected, typed, analysed and exported as CSV', async () => {
    const { id, identifier, progress } = await completedCase('csv');
    const validation = await readS3Json<Record<string, unknown>>(progress.s3_artifacts.validate!);
    expect(validation).toMatchObject({
      valid: true,
      content_type: 'text/csv',
      kind: 'csv',
      size: Buffer.byteLength(CSV_TEXT),
      sha256: sha256(Buffer.from(CSV_TEXT)),
      record_count: CSV_ROWS.length,
      csv: { delimiter: ';', header: true, columns: ['name', 'note', 'amount', 'active', 'code'] },
    });

    const records = (await readS3(artifact(identifier, 'transform/records.ndjson')))
      .toString()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
    expect(records).toEqual(
      CSV_ROWS.map((row) => ({ ...row, note: row.note || null, code: row.code === '' ? null : row.code === '12' ? 12 : row.code })),
    );

    const enrichment = await readS3Json<{ schema: { fields: unknown[] }; provenance: Record<string, unknown> }>(
      progress.s3_artifacts.enrich!,
    );
    // What the worker read of the row when it started the object, as the API shows the object.
    const shown = (await request(service.baseUrl).get(`/api/v1/objects/${id}`).expect(200)).body as {
      created_at: string;
      identifier: string;
    };
    expect(enrichment.provenance).toMatchObject({ object_id: id, identifier: shown.identifier, object_created_at: shown.created_at });
    expect(enrichment.schema.fields).toEqual([
      { name: 'name', types: ['string'], nullable: false, present_in: 4 },
      { name: 'note', types: ['string'], nullable: true, present_in: 4 },
      { name: 'amount', types: ['integer', 'number'], nullable: false, present_in: 4 },
      { name: 'active', types: ['boolean'], nullable: false, present_in: 4 },
      { name: 'code', types: ['integer', 'string'], nullable: true, present_in: 4 },
    ]);
    const analysis = await readS3Json<{ fields: { amount: { numeric: { mean: number } } } }>(progress.s3_artifacts.analyze!);
    const amounts = CSV_ROWS.map((row) => row.amount);
    expect(analysis.fields.amount.numeric.mean * amounts.length).toBeCloseTo(
      amounts.reduce((sum, value) => sum + value, 0),
      10,
    );
    expect(analysis.fields.amount.numeric).toMatchObject({ min: -3, max: 100 });

    // The manifest's presigned URLs really download, and the CSV export round-trips.
    const exported = await readS3Json<{ manifest: { artifacts: { key: string; url: string; s3_url: string }[] } }>(
      progress.s3_artifacts.export!,
    );
    const keys = exported.manifest.artifacts.map((entry) => entry.key).sort();
    expect(keys).toEqual(
      [
        'source/upload.csv',
        'validate_result.json',
        'transform_result.json',
        'transform/records.ndjson',
        'enrich_result.json',
        'analyze_result.json',
        'export/records.csv',
      ]
        .map((path) => `${identifier}/${path}`)
        .sort(),
    );
    for (const entry of exported.manifest.artifacts) {
      const download = await fetch(entry.url);
      expect(download.status).toBe(200);
      expect(Buffer.from(await download.arrayBuffer()).equals(await readS3(entry.s3_url))).toBe(true);
    }
    const csvUrl = exported.manifest.artifacts.find((entry) => entry.key.endsWith('export/records.csv'))!.url;
    const rows = parseCsv<Record<string, string>>(await (await fetch(csvUrl)).text(), { columns: true });
    expect(rows.map((row) => row.name)).toEqual(CSV_ROWS.map((row) => row.name));
    expect(rows[1]!.note).toBe('two\nlines');
    expect(rows.reduce((sum, row) => sum + Number(row.amount), 0)).toBeCloseTo(109.75, 10);
    expect(
      (
        (await request(service.baseUrl).get(`/api/v1/objects/${id}/artifacts`).expect(200))
          .body as components['schemas']['ArtifactsResponse']
      ).artifacts.length,
    ).toBe(keys.length + 1); // + export_result.json
  });

  it('NDJSON (CRLF, blank lines) checked record by record against a JSON Schema, with statistics that match', async () => {
    const { identifier, progress } = await completedCase('ndjson');
    expect(await readS3Json(progress.s3_artifacts.validate!)).toMatchObject({ kind: 'ndjson', record_count: 250, json_schema: 'passed' });
    const records = (await readS3(artifact(identifier, 'transform/records.ndjson'))).toString().trim().split('\n');
    expect(records.map((line) => JSON.parse(line) as unknown)).toEqual(NDJSON_RECORDS);
    const analysis = await readS3Json<{
      record_count: number;
      fields: { score: { numeric: { mean: number; min: number } }; group: { top_values: unknown } };
    }>(progress.s3_artifacts.analyze!);
    const scores = NDJSON_RECORDS.map((record) => record.score);
    expect(analysis.record_count).toBe(250);
    expect(analysis.fields.score.numeric.mean).toBeCloseTo(scores.reduce((sum, value) => sum + value, 0) / scores.length, 10);
    expect(analysis.fields.score.numeric.min).toBe(Math.min(...scores));
    expect(analysis.fields.group.top_values).toEqual([
      { value: 'a', count: 84 },
      { value: 'b', count: 83 },
      { value: 'c', count: 83 },
    ]);
  });

  it('a JSON array streams element by element to records, exported as NDJSON by default', async () => {
    const { identifier, progress } = await completedCase('json');
    expect(await readS3Json(progress.s3_artifacts.validate!)).toMatchObject({ kind: 'json', json_kind: 'array', record_count: 4 });
    const expected = JSON_ARRAY.map((item) => (typeof item === 'object' ? item : { value: item }));
    const canonical = (await readS3(artifact(identifier, 'transform/records.ndjson'))).toString();
    expect(
      canonical
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual(expected);
    expect(await readS3Json(progress.s3_artifacts.export!)).toMatchObject({
      format: 'ndjson',
      file: artifact(identifier, 'export/records.ndjson'),
    });
    expect((await readS3(artifact(identifier, 'export/records.ndjson'))).toString()).toBe(canonical);
  });
});

describe('text', () => {
  it('becomes NFC with \\n line endings, with counts and top terms; export is the canonical text', async () => {
    const { identifier, progress } = await completedCase('text');
    expect(await readS3Json(progress.s3_artifacts.validate!)).toMatchObject({
      kind: 'text',
      content_type: 'text/plain',
      size: Buffer.byteLength(TEXT_SOURCE),
    });
    const canonical = (await readS3(artifact(identifier, 'transform/text.txt'))).toString('utf8');
    expect(canonical).toBe(TEXT_CANONICAL);
    expect(canonical).toBe(TEXT_SOURCE.replace(/\r\n?/g, '\n').normalize('NFC'));

    const enrichment = await readS3Json<{ text: unknown }>(progress.s3_artifacts.enrich!);
    expect(enrichment.text).toEqual({
      bytes: Buffer.byteLength(TEXT_CANONICAL),
      characters: [...TEXT_CANONICAL].length,
      words: TEXT_CANONICAL.split(/\s+/).filter(Boolean).length,
      lines: 3,
    });
    const analysis = await readS3Json<{ terms: { top_terms: { term: string; count: number }[] } }>(progress.s3_artifacts.analyze!);
    expect(analysis.terms.top_terms.slice(0, 3)).toEqual([
      { term: 'the', count: 3 },
      { term: 'café', count: 2 },
      { term: 'end', count: 2 },
    ]);
    expect(await readS3Json(progress.s3_artifacts.export!)).toMatchObject({
      format: 'text',
      file: artifact(identifier, 'export/text.txt'),
    });
    expect((await readS3(artifact(identifier, 'export/text.txt'))).toString('utf8')).toBe(TEXT_CANONICAL);
  });
});

describe('images', () => {
  type ThumbnailResult = { thumbnails: { size: string; width: number; height: number; bytes: number; s3_url: string; url: string }[] };

  /** Each thumbnail as downloaded through its presigned URL: its real format and size, checked against the result. */
  async function downloadedThumbnails(progress: ProgressResponse) {
    const result = await readS3Json<ThumbnailResult>(progress.s3_artifacts.thumbnail!);
    return Promise.all(
      result.thumbnails.map(async (thumbnail) => {
        const bytes = Buffer.from(await (await fetch(thumbnail.url)).arrayBuffer());
        const metadata = await sharp(bytes).metadata();
        expect({ width: metadata.width, height: metadata.height, bytes: bytes.length }).toEqual({
          width: thumbnail.width,
          height: thumbnail.height,
          bytes: thumbnail.bytes,
        });
        expect(metadata.format).toBe('webp');
        expect(thumbnail.s3_url).toMatch(new RegExp(`/thumbnail/${thumbnail.size}\\.webp$`));
        return { size: thumbnail.size, width: metadata.width, height: metadata.height, exif: metadata.exif };
      }),
    );
  }

  it('JPEG with EXIF orientation 6: thumbnails are auto-oriented and fit inside each box; enrich reports the EXIF', async () => {
    const { progress } = await completedCase('jpeg');
    expect(await readS3Json(progress.s3_artifacts.validate!)).toMatchObject({
      kind: 'image',
      content_type: 'image/jpeg',
      image: { format: 'jpeg', width: 2000, height: 1000, oriented_width: 1000, oriented_height: 2000, orientation: 6 },
    });
    expect(await downloadedThumbnails(progress)).toEqual([
      { size: '100x100', width: 50, height: 100, exif: undefined },
      { size: '300x300', width: 150, height: 300, exif: undefined },
      { size: '1200x1200', width: 600, height: 1200, exif: undefined },
    ]);
    const enrichment = await readS3Json<{ image: Record<string, unknown> }>(progress.s3_artifacts.enrich!);
    expect(enrichment.image).toMatchObject({
      format: 'jpeg',
      width: 2000,
      height: 1000,
      colour_space: 'srgb',
      channels: 3,
      has_alpha: false,
      exif: { present: true, orientation: 6 },
      canonical: { format: 'webp', width: 1000, height: 2000 },
    });
  });

  it('PNG: 100x50, 300x150, 1200x600 thumbnails; transform and export give a metadata-free WebP', async () => {
    const { identifier, progress } = await completedCase('png');
    expect((await downloadedThumbnails(progress)).map(({ size, width, height }) => ({ size, width, height }))).toEqual([
      { size: '100x100', width: 100, height: 50 },
      { size: '300x300', width: 300, height: 150 },
      { size: '1200x1200', width: 1200, height: 600 },
    ]);
    const webp = await readS3(artifact(identifier, 'export/image.webp'));
    expect(webp.equals(await readS3(artifact(identifier, 'transform/image.webp')))).toBe(true);
    const metadata = await sharp(webp).metadata();
    expect(metadata).toMatchObject({ format: 'webp', width: 2000, height: 1000 });
    expect(metadata.exif).toBeUndefined();
    expect(metadata.icc).toBeUndefined();
    const analysis = await readS3Json<{
      dominant_colours: { hex: string; share: number }[];
      histogram: { channels: { red: number[] } };
      entropy: number;
      sharpness: unknown;
    }>(progress.s3_artifacts.analyze!);
    // Half red (200,40,40) and half blue (30,60,220): the two dominant colours, about half each.
    expect(
      analysis.dominant_colours
        .slice(0, 2)
        .map((colour: { hex: string }) => colour.hex)
        .sort(),
    ).toEqual(['#1838d8', '#c82828']);
    for (const colour of analysis.dominant_colours.slice(0, 2)) {
      expect(colour.share).toBeCloseTo(0.5, 1);
    }
    expect(analysis.histogram.channels.red.reduce((sum: number, count: number) => sum + count, 0)).toBe(1024 * 512);
    expect(analysis.entropy).toBeGreaterThan(0);
    expect(typeof analysis.sharpness).toBe('number');
  });

  it('a small WebP is not enlarged', async () => {
    const { progress } = await completedCase('webp');
    expect((await downloadedThumbnails(progress)).map(({ width, height }) => [width, height])).toEqual([
      [80, 60],
      [80, 60],
      [80, 60],
    ]);
  });

  it('GIF, AVIF and TIFF decode and get thumbnails; sizes are configurable', async () => {
    const gif = (await completedCase('gif')).progress;
    expect(await readS3Json(gif.s3_artifacts.validate!)).toMatchObject({
      content_type: 'image/gif',
      image: { format: 'gif', width: 400, height: 200 },
    });
    expect((await downloadedThumbnails(gif)).map(({ width, height }) => [width, height])).toEqual([
      [100, 50],
      [300, 150],
      [400, 200],
    ]);
    expect(await readS3Json(gif.s3_artifacts.analyze!)).toMatchObject({
      kind: 'image',
      histogram: { sampled_width: 400, sampled_height: 200 },
    });

    const avif = (await completedCase('avif')).progress;
    expect(await readS3Json(avif.s3_artifacts.validate!)).toMatchObject({
      content_type: 'image/avif',
      image: { format: 'avif', width: 640, height: 480 },
    });
    expect((await downloadedThumbnails(avif)).map(({ width, height }) => [width, height])).toEqual([
      [100, 75],
      [300, 225],
      [640, 480],
    ]);

    const tiff = (await completedCase('tiff')).progress;
    expect(await readS3Json(tiff.s3_artifacts.validate!)).toMatchObject({ content_type: 'image/tiff', image: { format: 'tiff' } });
    expect((await downloadedThumbnails(tiff)).map(({ size, width, height }) => [size, width, height])).toEqual([
      ['64x64', 64, 32],
      ['250x1000', 250, 125],
    ]);
  });
});

describe('invalid content fails at once, saying what and where, and is not retried', () => {
  async function failedCase(name: string, operation = 'validate') {
    const { id } = await submitted(name);
    const progress = await settled(id);
    expect(progress.state).toBe('failed');
    expect(progress.operations_status[operation]).toMatchObject({ completed: false, attempts: 1 });
    expect(progress.operations_status[operation]!.error).toBe(progress.error_message!.replace(`${operation}: `, ''));
    const [row] = await query<{ attempts: number }>('select attempts from processing_objects where id = $1', [id]);
    expect(row!.attempts).toBe(1);
    return progress.error_message!;
  }

  it('truncated JSON: line and column', async () => {
    expect(await failedCase('truncatedJson')).toBe(
      'validate: Invalid JSON at line 4, column 1: the content ends where a value was expected',
    );
  });

  it('a ragged CSV row: its line', async () => {
    expect(await failedCase('raggedCsv')).toBe('validate: Invalid CSV at line 3: the row has 2 field(s), expected 3 like the first row');
  });

  it('a badly quoted CSV field: its line and field', async () => {
    expect(await failedCase('badQuoteCsv')).toBe('validate: Invalid CSV at line 3, field 2: unexpected "y" after a closing quote');
  });

  it('an NDJSON record that does not match the JSON Schema: record, line and path', async () => {
    expect(await failedCase('schemaNdjson')).toBe('validate: Record 2 (line 2) does not match the JSON Schema at /count: must be integer');
  });

  it('invalid UTF-8 text: byte offset and line', async () => {
    expect(await failedCase('invalidUtf8')).toBe(
      `validate: Invalid UTF-8 at byte ${Buffer.byteLength(VALID_TEXT_BEFORE_BAD_BYTES)} (line ${VALID_TEXT_BEFORE_BAD_BYTES.split('\n').length})`,
    );
  });

  it('a truncated PNG is corrupt', async () => {
    expect(await failedCase('corruptPng')).toMatch(/^validate: image is corrupt: .+/);
  });

  it('a decompression bomb exceeds the pixel limit without being decoded', async () => {
    const bomb = pngDeclaring(30_000, 30_000);
    expect(bomb.length).toBeLessThan(100_000);
    expect(30_000 * 30_000).toBeGreaterThan(service.config.limits.imagePixels);
    expect(await failedCase('bomb')).toBe(`validate: image exceeds ${service.config.limits.imagePixels} pixels: it is 30000x30000`);
  });

  it('the pixel limit is IMAGE_MAX_PIXELS', async () => {
    const strict = await startTestApp({ IMAGE_MAX_PIXELS: '1000' });
    try {
      const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
        .png()
        .toBuffer();
      const response = await request(strict.baseUrl)
        .post('/api/v1/process')
        .field('identifier', uniqueIdentifier('strict-pixels'))
        .field('operations', 'validate')
        .attach('file', image, { filename: 'small.png', contentType: 'image/png' })
        .expect(202);
      const progress = await waitUntilSettled(strict.baseUrl, (response.body as { id: string }).id);
      expect(progress.error_message).toBe('validate: image exceeds 1000 pixels: it is 64x64');
    } finally {
      await strict.close();
    }
  });

  it('thumbnail of a CSV: it requires an image', async () => {
    const message = await failedCase('thumbnailOfCsv', 'thumbnail');
    expect(message).toBe('thumbnail: thumbnail requires an image; content is text/csv');
    const { id } = await submitted('thumbnailOfCsv');
    expect((await settled(id)).operations_status.validate).toMatchObject({ completed: true, attempts: 1 });
  });
});
