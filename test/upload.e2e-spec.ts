import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import request from 'supertest';
import { AppConfig } from '../src/config/app-config';
import { createS3Client } from '../src/storage/s3-client.factory';
import type { components } from './support/api-types';
import { listS3Keys, readS3 } from './support/artifacts';
import { expectErrorShape } from './support/error-shape';
import { countJobs, objectsQueueOf, waitUntilSettled } from './support/objects';
import { closeDatabase, query } from './support/database';
import { freePort, spawnService } from './support/service-process';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

/** The 202 a submission answers with, and the body of a refusal. */
const submissionOf = (response: { body: unknown }) => response.body as components['schemas']['SubmissionResponseDto'];
const errorOf = (response: { body: unknown }) => response.body as components['schemas']['ErrorResponse'];

const UPLOAD_LIMIT = 65536;
/** Over lib-storage's 5 MiB part size: a file beyond it is refused after the S3 multipart upload began. */
const PARTS_LIMIT = 7 * 1024 * 1024;

interface SourceRow {
  content_type: string;
  size: number;
  sha256: string;
  s3_url: string;
  filename?: string;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function csvOf(rows: number): Buffer {
  const lines = ['id,name,score,active'];
  for (let i = 1; i <= rows; i++) {
    lines.push(`${i},name-${i},${(i * 1.5).toFixed(1)},${i % 2 === 0}`);
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** Bytes with a real ZIP local-file-header signature, then noise. */
function zipLike(size: number): Buffer {
  const bytes = randomBytes(size);
  Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]).copy(bytes);
  Buffer.from('data.bin').copy(bytes, 30);
  bytes.writeUInt16LE(8, 26);
  bytes.writeUInt16LE(0, 28);
  return bytes;
}

const PDF = Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');

/** Unfinished multipart uploads under a prefix, or 'unsupported' where the S3 server has no ListMultipartUploads (s3rver). */
async function unfinishedUploads(prefix: string): Promise<string[] | 'unsupported'> {
  const s3 = new AppConfig(process.env).s3;
  const client = createS3Client(s3);
  try {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: prefix }));
    return (page.Uploads ?? []).map((upload) => upload.Key!);
  } catch (error) {
    if ((error as { name?: string }).name === 'NotImplemented') {
      return 'unsupported';
    }
    throw error;
  } finally {
    client.destroy();
  }
}

async function rowsWithIdentifier(identifier: string): Promise<Record<string, unknown>[]> {
  return query('select * from processing_objects where identifier = $1', [identifier]);
}

describe('uploading a file (multipart/form-data)', () => {
  let service: TestApp;
  let limited: TestApp;
  let queue: Queue;
  let limitedQueue: Queue;
  let partsLimited: TestApp;
  let partsLimitedQueue: Queue;

  const api = () => request(service.baseUrl);

  const jobCount = countJobs;

  const settled = (id: string) => waitUntilSettled(service.baseUrl, id);

  /** Asserts a refused upload left nothing: no row, no S3 key, no unfinished multipart upload, no job. */
  const expectNothingLeft = async (identifier: string, q: Queue, jobsBefore: number) => {
    expect(await rowsWithIdentifier(identifier)).toEqual([]);
    expect(await listS3Keys(`${identifier}/`)).toEqual([]);
    const uploads = await unfinishedUploads(`${identifier}/`);
    if (uploads !== 'unsupported') {
      expect(uploads).toEqual([]);
    }
    expect(await jobCount(q)).toBe(jobsBefore);
  };

  beforeAll(async () => {
    service = await startTestApp();
    limited = await startTestApp({ UPLOAD_LIMIT_BYTES: String(UPLOAD_LIMIT), PAYLOAD_LIMIT_BYTES: '4096', APP_ROLE: 'api' });
    queue = objectsQueueOf(service);
    limitedQueue = objectsQueueOf(limited);
    partsLimited = await startTestApp({ UPLOAD_LIMIT_BYTES: String(PARTS_LIMIT), APP_ROLE: 'api' });
    partsLimitedQueue = objectsQueueOf(partsLimited);
  });

  afterAll(async () => {
    await queue?.close();
    await limitedQueue?.close();
    await partsLimitedQueue?.close();
    await partsLimited?.close();
    await limited?.close();
    await service?.close();
    await closeDatabase();
  });

  it('a CSV streams to S3 as the source, with its type, size and SHA-256 recorded, and is processed', async () => {
    const identifier = uniqueIdentifier('csv-upload');
    const csv = csvOf(200);
    const response = await api()
      .post('/api/v1/process')
      .field('identifier', identifier)
      .field('operations', '["validate","transform"]')
      .field('metadata', JSON.stringify({ team: 'crm' }))
      .field('priority', '7')
      .attach('file', csv, { filename: 'customers.csv', contentType: 'text/csv' })
      .expect(202);
    expect(response.body).toEqual({
      id: expect.any(String) as unknown,
      identifier,
      state: 'queued',
      task_id: expect.any(String) as unknown,
      message: 'Object queued for processing',
    });

    const [row] = await rowsWithIdentifier(identifier);
    expect(row).toMatchObject({
      id: submissionOf(response).id,
      operations: ['validate', 'transform'],
      metadata: { team: 'crm' },
      priority: 7,
    });
    const source = row!.source as SourceRow;
    expect(source).toEqual({
      content_type: 'text/csv',
      size: csv.length,
      sha256: sha256(csv),
      s3_url: `s3://${service.config.s3.bucket}/${identifier}/source/upload.csv`,
      filename: 'customers.csv',
    });
    expect((await readS3(source.s3_url)).equals(csv)).toBe(true);

    const object = (await api().get(`/api/v1/objects/${identifier}`).expect(200)).body as { source: SourceRow };
    expect(object.source).toEqual(source);

    const final = await settled(submissionOf(response).id);
    const validate = final.operations_status.validate;
    // How operations treat CSV is not this test's business: validate ran to an end either way.
    expect(validate!.completed || (typeof validate!.error === 'string' && validate!.error.length > 0)).toBe(true);
  });

  it('accepts operations as a comma-separated list or as repeated fields', async () => {
    const commaSeparated = uniqueIdentifier('ops-comma');
    await api()
      .post('/api/v1/process')
      .field('identifier', commaSeparated)
      .field('operations', 'validate, transform')
      .attach('file', Buffer.from('hello\n'), { filename: 'note.txt', contentType: 'text/plain' })
      .expect(202);
    const repeated = uniqueIdentifier('ops-repeated');
    await api()
      .post('/api/v1/process')
      .field('identifier', repeated)
      .field('operations', 'validate')
      .field('operations', 'enrich')
      .attach('file', Buffer.from('{"a":1}\n{"a":2}\n'), { filename: 'rows.ndjson', contentType: 'application/octet-stream' })
      .expect(202);
    const [first] = await rowsWithIdentifier(commaSeparated);
    const [second] = await rowsWithIdentifier(repeated);
    expect(first!.operations).toEqual(['validate', 'transform']);
    expect((first!.source as SourceRow).content_type).toBe('text/plain');
    expect(second!.operations).toEqual(['validate', 'enrich']);
    expect((second!.source as SourceRow).content_type).toBe('application/x-ndjson');
    expect((second!.source as SourceRow).s3_url).toMatch(/\/source\/upload\.ndjson$/);
    await settled(first!.id as string);
    await settled(second!.id as string);
  });

  it('POST /api/v1/process/upload takes the same form (for clients generated one media type per operation), and refuses JSON with 415', async () => {
    const identifier = uniqueIdentifier('upload-route');
    const accepted = await api()
      .post('/api/v1/process/upload')
      .field('identifier', identifier)
      .field('operations', 'validate')
      .attach('file', Buffer.from('id,name\n1,Ada\n'), { filename: 'people.csv', contentType: 'text/csv' })
      .expect(202);
    expect(accepted.body).toMatchObject({ identifier, state: 'queued' });
    const [row] = await rowsWithIdentifier(identifier);
    expect((row!.source as SourceRow).content_type).toBe('text/csv');
    await settled(submissionOf(accepted).id);

    const json = await api()
      .post('/api/v1/process/upload')
      .send({ identifier: uniqueIdentifier('upload-json'), operations: ['validate'] })
      .expect(415);
    expectErrorShape(json.body, 415, 'unsupported_media_type');
  });

  it('recognises images by their bytes: a PNG is image/png, a JPEG sent as customers.csv (text/csv) is image/jpeg', async () => {
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#996633' } })
      .jpeg()
      .toBuffer();

    const pngIdentifier = uniqueIdentifier('png-upload');
    const pngResponse = await api()
      .post('/api/v1/process')
      .field('identifier', pngIdentifier)
      .field('operations', '["validate"]')
      .attach('file', png, { filename: 'picture.png', contentType: 'image/png' })
      .expect(202);
    const pngSource = (await rowsWithIdentifier(pngIdentifier))[0]!.source as SourceRow;
    expect(pngSource).toMatchObject({ content_type: 'image/png', size: png.length, sha256: sha256(png) });
    expect(pngSource.s3_url).toMatch(/\/source\/upload\.png$/);
    expect((await readS3(pngSource.s3_url)).equals(png)).toBe(true);

    const jpegIdentifier = uniqueIdentifier('jpeg-liar');
    const jpegResponse = await api()
      .post('/api/v1/process')
      .field('identifier', jpegIdentifier)
      .field('operations', '["validate"]')
      .attach('file', jpeg, { filename: 'customers.csv', contentType: 'text/csv' })
      .expect(202);
    const jpegSource = (await rowsWithIdentifier(jpegIdentifier))[0]!.source as SourceRow;
    expect(jpegSource).toMatchObject({ content_type: 'image/jpeg', size: jpeg.length, sha256: sha256(jpeg) });
    expect(jpegSource.s3_url).toMatch(/\/source\/upload\.jpg$/);
    await settled(submissionOf(pngResponse).id);
    await settled(submissionOf(jpegResponse).id);
  });

  it('a file over the upload limit is 413 payload_too_large, and leaves no row, no S3 object, no job', async () => {
    const identifier = uniqueIdentifier('too-large');
    const jobsBefore = await jobCount(limitedQueue);
    const big = csvOf(8000);
    expect(big.length).toBeGreaterThan(3 * UPLOAD_LIMIT);
    const response = await request(limited.baseUrl)
      .post('/api/v1/process')
      .field('identifier', identifier)
      .field('operations', '["validate"]')
      .attach('file', big, { filename: 'big.csv', contentType: 'text/csv' })
      .expect(413);
    expectErrorShape(response.body, 413, 'payload_too_large');
    expect(errorOf(response).message).toContain(String(UPLOAD_LIMIT));
    await expectNothingLeft(identifier, limitedQueue, jobsBefore);

    // The same service still takes a file within the limit, and the identifier is free again.
    await request(limited.baseUrl)
      .post('/api/v1/process')
      .field('identifier', identifier)
      .field('operations', '["validate"]')
      .attach('file', csvOf(10), { filename: 'small.csv', contentType: 'text/csv' })
      .expect(202);
  });

  it('a file over a limit beyond the S3 part size is 413 too, after a multipart upload began, and leaves no S3 object', async () => {
    const identifier = uniqueIdentifier('too-large-parts');
    const jobsBefore = await jobCount(partsLimitedQueue);
    const sent = await streamMultipartUpload(partsLimited.baseUrl, identifier, PARTS_LIMIT + 4 * 1024 * 1024);
    expect(sent.status).toBe(413);
    expectErrorShape(sent.body, 413, 'payload_too_large');
    await expectNothingLeft(identifier, partsLimitedQueue, jobsBefore);
  });

  it('a client that goes away mid-upload leaves nothing behind', async () => {
    const identifier = uniqueIdentifier('aborted');
    const jobsBefore = await jobCount(queue);
    const boundary = `----abort${randomUUID().replace(/-/g, '')}`;
    const req = httpRequest(`${service.baseUrl}/api/v1/process`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    req.on('error', () => undefined);
    req.write(`--${boundary}\r\ncontent-disposition: form-data; name="identifier"\r\n\r\n${identifier}\r\n`);
    req.write(`--${boundary}\r\ncontent-disposition: form-data; name="operations"\r\n\r\nvalidate\r\n`);
    req.write(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.csv"\r\ncontent-type: text/csv\r\n\r\n`);
    req.write(csvOf(300_000)); // ~9 MB: past the first S3 part
    // The object exists (pending) while the file streams; then the client disappears.
    await waitFor(async () => (await rowsWithIdentifier(identifier)).length === 1, { what: 'the pending row' });
    req.destroy();
    await waitFor(async () => (await rowsWithIdentifier(identifier)).length === 0, { what: 'the pending row to go' });
    await expectNothingLeft(identifier, queue, jobsBefore);
  });

  it('an inline JSON payload over the payload limit is 413 too, and leaves nothing', async () => {
    const identifier = uniqueIdentifier('big-payload');
    const jobsBefore = await jobCount(limitedQueue);
    const payload = Array.from({ length: 400 }, (_, i) => ({ i, text: 'x'.repeat(20) }));
    const response = await request(limited.baseUrl)
      .post('/api/v1/process')
      .send({ identifier, operations: ['validate'], payload })
      .expect(413);
    expectErrorShape(response.body, 413, 'payload_too_large');
    await expectNothingLeft(identifier, limitedQueue, jobsBefore);
  });

  it.each([
    ['a PDF', PDF, 'report.pdf', 'application/pdf'],
    ['a ZIP (declared as CSV)', zipLike(20_000), 'data.csv', 'text/csv'],
    ['binary octet-stream', randomBytes(50_000), 'blob.bin', 'application/octet-stream'],
  ])('%s is 415 unsupported_media_type, and leaves nothing', async (_label, bytes, filename, contentType) => {
    const identifier = uniqueIdentifier('unsupported');
    const jobsBefore = await jobCount(queue);
    const response = await api()
      .post('/api/v1/process')
      .field('identifier', identifier)
      .field('operations', '["validate"]')
      .attach('file', bytes, { filename, contentType })
      .expect(415);
    expectErrorShape(response.body, 415, 'unsupported_media_type');
    expect(errorOf(response).message).toMatch(/Unsupported content type/);
    await expectNothingLeft(identifier, queue, jobsBefore);
  });

  describe('bad forms are 400 in the one error shape, and leave nothing', () => {
    const file = csvOf(5);
    const cases: [string, (identifier: string) => request.Test, string, RegExp][] = [
      [
        'the file before the fields',
        (identifier) =>
          api()
            .post('/api/v1/process')
            .attach('file', file, { filename: 'a.csv', contentType: 'text/csv' })
            .field('identifier', identifier)
            .field('operations', 'validate'),
        'validation_failed',
        /must come before the file/,
      ],
      [
        'no file',
        (identifier) => api().post('/api/v1/process').field('identifier', identifier).field('operations', 'validate'),
        'validation_failed',
        /file.*required/,
      ],
      [
        'no identifier',
        () =>
          api()
            .post('/api/v1/process')
            .field('operations', 'validate')
            .attach('file', file, { filename: 'a.csv', contentType: 'text/csv' }),
        'validation_failed',
        /identifier/,
      ],
      [
        'a bad identifier',
        () =>
          api()
            .post('/api/v1/process')
            .field('identifier', '../etc/passwd')
            .field('operations', 'validate')
            .attach('file', file, { filename: 'a.csv', contentType: 'text/csv' }),
        'validation_failed',
        /identifier must be/,
      ],
      [
        'an unknown operation',
        (identifier) =>
          api()
            .post('/api/v1/process')
            .field('identifier', identifier)
            .field('operations', '["validate","resize"]')
            .attach('file', file, { filename: 'a.csv', contentType: 'text/csv' }),
        'unknown_operation',
        /resize.*Valid operations: validate/,
      ],
      [
        'metadata that is not JSON',
        (identifier) =>
          api()
            .post('/api/v1/process')
            .field('identifier', identifier)
            .field('operations', 'validate')
            .field('metadata', '{team: crm')
            .attach('file', file, { filename: 'a.csv', contentType: 'text/csv' }),
        'validation_failed',
        /metadata must be JSON/,
      ],
      [
        'metadata that is JSON but not an object',
        (identifier) =>
          api()
            .post('/api/v1/process')
            .field('identifier', identifier)
            .field('operations', 'validate')
            .field('metadata', '[1,2]')
            .attach('file', file, { filename: 'a.csv', contentType: 'text/csv' }),
        'validation_failed',
        /metadata must be an object/,
      ],
      [
        'an unknown field',
        (identifier) =>
          api()
            .post('/api/v1/process')
            .field('identifier', identifier)
            .field('operations', 'validate')
            .field('colour', 'blue')
            .attach('file', file, { filename: 'a.csv', contentType: 'text/csv' }),
        'validation_failed',
        /property colour should not exist/,
      ],
      [
        'a field after the file',
        (identifier) =>
          api()
            .post('/api/v1/process')
            .field('identifier', identifier)
            .field('operations', 'validate')
            .attach('file', file, { filename: 'a.csv', contentType: 'text/csv' })
            .field('priority', '3'),
        'validation_failed',
        /follows the file/,
      ],
      [
        'two files',
        (identifier) =>
          api()
            .post('/api/v1/process')
            .field('identifier', identifier)
            .field('operations', 'validate')
            .attach('file', file, { filename: 'a.csv', contentType: 'text/csv' })
            .attach('file', file, { filename: 'b.csv', contentType: 'text/csv' }),
        'validation_failed',
        /exactly one file/,
      ],
    ];

    it.each(cases)('%s', async (_label, send, code, message) => {
      const identifier = uniqueIdentifier('bad-form');
      const jobsBefore = await jobCount(queue);
      const response = await send(identifier).expect(400);
      expectErrorShape(response.body, 400, code);
      expect(errorOf(response).message).toMatch(message);
      await expectNothingLeft(identifier, queue, jobsBefore);
    });
  });

  it('a taken identifier is 409 naming the existing object; an Idempotency-Key replay returns the first response', async () => {
    const identifier = uniqueIdentifier('upload-taken');
    const key = randomUUID();
    const csv = csvOf(20);
    const send = (bytes: Buffer, idempotencyKey?: string) => {
      const req = api().post('/api/v1/process');
      if (idempotencyKey) {
        req.set('Idempotency-Key', idempotencyKey);
      }
      return req
        .field('identifier', identifier)
        .field('operations', 'validate')
        .attach('file', bytes, { filename: 'a.csv', contentType: 'text/csv' });
    };
    const first = await send(csv, key).expect(202);

    const replay = await send(csv, key).expect(202);
    expect(replay.body).toEqual(first.body);

    const otherFile = await send(csvOf(21), key).expect(409);
    expectErrorShape(otherFile.body, 409, 'idempotency_key_reused');

    const duplicate = await send(csv).expect(409);
    expectErrorShape(duplicate.body, 409, 'identifier_taken');
    expect(errorOf(duplicate).message).toContain(submissionOf(first).id);
    expect(errorOf(duplicate).details).toMatchObject({ id: submissionOf(first).id, identifier });

    const viaJson = await api()
      .post('/api/v1/process')
      .send({ identifier, operations: ['validate'] })
      .expect(409);
    expect(viaJson.body).toMatchObject({ code: 'identifier_taken', details: { id: submissionOf(first).id } });

    const rows = await rowsWithIdentifier(identifier);
    expect(rows.map((row) => row.id)).toEqual([submissionOf(first).id]);
    expect(await listS3Keys(`${identifier}/source/`)).toEqual([`${identifier}/source/upload.csv`]);
    expect((await readS3((rows[0]!.source as SourceRow).s3_url)).equals(csv)).toBe(true);
    await settled(submissionOf(first).id);
  });

  it('a ~24 MB file streams through to S3 (multipart upload) with its size and SHA-256 recorded; the API process RSS is reported', async () => {
    // The API in a process of its own, so its memory is measured without the test's; the body is generated as it is sent.
    const port = await freePort();
    const apiProcess = spawnService({ ...service.env, APP_ROLE: 'api', PORT: String(port), HOST: '127.0.0.1' });
    try {
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${baseUrl}/health/live`).catch(() => undefined))?.ok === true, {
        what: 'the API process to answer',
        timeoutMs: 30_000,
      });
      const identifier = uniqueIdentifier('large-upload');
      const rssBefore = memoryOf(apiProcess.child.pid!);
      const sent = await streamMultipartUpload(baseUrl, identifier, 24 * 1024 * 1024);
      const rssAfter = memoryOf(apiProcess.child.pid!);
      expect(sent.status).toBe(202);

      const source = (await rowsWithIdentifier(identifier))[0]!.source as SourceRow;
      expect(source).toMatchObject({ content_type: 'text/csv', size: sent.size, sha256: sent.sha256 });
      const stored = await readS3(source.s3_url);
      expect(stored.length).toBe(sent.size);
      expect(sha256(stored)).toBe(sent.sha256);
      console.log(
        `upload of ${(sent.size / 1048576).toFixed(1)} MiB to a separate API process: RSS ${rssBefore.rssMiB} MiB before, ${rssAfter.rssMiB} MiB after, peak ${rssAfter.peakMiB} MiB`,
      );
    } finally {
      await apiProcess.stop();
    }
  });
});

/** VmRSS and VmHWM (peak) of a process, in MiB, from /proc. */
function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rssMiB: Math.round(kib('VmRSS') / 1024), peakMiB: Math.round(kib('VmHWM') / 1024) };
}

/** POSTs a multipart form whose CSV file of about `bytes` bytes is generated while it is sent; returns the status and what was sent. */
async function streamMultipartUpload(
  baseUrl: string,
  identifier: string,
  bytes: number,
): Promise<{ status: number; body: Record<string, unknown>; size: number; sha256: string }> {
  const boundary = `----upload${randomUUID().replace(/-/g, '')}`;
  const hash = createHash('sha256');
  let size = 0;
  function* body(): Generator<Buffer> {
    const field = (name: string, value: string) =>
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
    yield field('identifier', identifier);
    yield field('operations', '["validate"]');
    yield Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="large.csv"\r\ncontent-type: text/csv\r\n\r\n`,
    );
    const header = Buffer.from('id,name,score,active,comment\n');
    hash.update(header);
    size += header.length;
    yield header;
    for (let row = 0; size < bytes;) {
      const lines: string[] = [];
      for (let i = 0; i < 2000; i++, row++) {
        lines.push(`${row},name-${row},${row % 97},${row % 2 === 0},some words of comment ${row}\n`);
      }
      const chunk = Buffer.from(lines.join(''));
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  const answer = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const req = httpRequest(
      `${baseUrl}/api/v1/process`,
      { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    pipeline(Readable.from(body()), req).catch(reject);
  });
  return { ...answer, size, sha256: hash.digest('hex') };
}
