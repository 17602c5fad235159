import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { ArtifactsService } from '../objects/artifacts.service';
import type { ObjectsRepository } from '../objects/objects.repository';
import type { ProcessingObject } from '../objects/processing-object.entity';
import type { StorageService } from '../storage/storage.service';
import { JobMemory, OperationRun, SMALL_CONTENT_BYTES } from './operation-run';

/** An in-memory bucket that counts the requests it gets. */
function fakeStorage(contents: Record<string, string>) {
  const bucket = new Map<string, Buffer>(Object.entries(contents).map(([key, value]) => [key, Buffer.from(value)]));
  const requests: string[] = [];
  const storage = {
    keyOf: (url: string) => url.slice('s3://bucket/'.length),
    s3Url: (key: string) => `s3://bucket/${key}`,
    async getStream(key: string) {
      requests.push(`GET ${key}`);
      return Readable.from([bucket.get(key)!]);
    },
    async getBuffer(key: string) {
      requests.push(`GET ${key}`);
      return bucket.get(key)!;
    },
    async putBuffer(key: string, body: Buffer) {
      requests.push(`PUT ${key}`);
      bucket.set(key, body);
      return { key, s3Url: `s3://bucket/${key}`, size: body.length };
    },
    async putStream(key: string, body: Readable, _type: string, _signal?: AbortSignal, keepUpTo = 0) {
      requests.push(`PUT ${key}`);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
      const stored = Buffer.concat(chunks);
      bucket.set(key, stored);
      return { key, s3Url: `s3://bucket/${key}`, size: stored.length, ...(stored.length <= keepUpTo ? { body: stored } : {}) };
    },
    async copy(from: string, to: string) {
      requests.push(`COPY ${from} ${to}`);
      bucket.set(to, bucket.get(from)!);
      return { key: to, s3Url: `s3://bucket/${to}`, size: bucket.get(to)!.length };
    },
  };
  return { storage: storage as unknown as StorageService, requests };
}

function objectWithSource(size: number): ProcessingObject {
  return {
    id: 'id-1',
    identifier: 'doc',
    metadata: {},
    options: {},
    plan: ['validate', 'transform'],
    operationsStatus: {},
    createdAt: new Date(),
    source: { content_type: 'application/json', size, sha256: 'x', s3_url: 's3://bucket/doc/source/payload.json' },
  } as unknown as ProcessingObject;
}

function runOf(object: ProcessingObject, operation: string, storage: StorageService, memory: JobMemory) {
  return new OperationRun(object, operation, new AbortController().signal, {
    storage,
    memory,
    objects: {} as ObjectsRepository,
    artifacts: {} as ArtifactsService,
    publishChange: async () => undefined,
  });
}

describe('OperationRun', () => {
  it('reads small content of a job from S3 once: the source, and files written earlier in the job', async () => {
    const { storage, requests } = fakeStorage({ 'doc/source/payload.json': '[1,2]' });
    const memory = new JobMemory();
    const object = objectWithSource(5);
    const validate = runOf(object, 'validate', storage, memory);
    expect(await text(await validate.openContent())).toBe('[1,2]');
    expect(await text(await validate.openContent())).toBe('[1,2]');
    const transform = runOf(object, 'transform', storage, memory);
    expect(await text(await transform.openContent())).toBe('[1,2]');
    await transform.writeFile('records.ndjson', Readable.from(['1\n', '2\n']), 'application/x-ndjson');
    const exporting = runOf(object, 'export', storage, memory);
    expect(await text(await exporting.openFile('transform', 'records.ndjson'))).toBe('1\n2\n');
    await exporting.copyFile('transform', 'records.ndjson', 'records.ndjson');
    expect(requests).toEqual(['GET doc/source/payload.json', 'PUT doc/transform/records.ndjson', 'PUT doc/export/records.ndjson']);
  });

  it('streams large content from S3 every time, and a new job starts with nothing in memory', async () => {
    const large = 'x'.repeat(SMALL_CONTENT_BYTES + 1);
    const { storage, requests } = fakeStorage({ 'doc/source/payload.json': large, 'doc/transform/records.ndjson': '1\n' });
    const object = objectWithSource(large.length);
    const memory = new JobMemory();
    const validate = runOf(object, 'validate', storage, memory);
    expect((await text(await validate.openContent())).length).toBe(large.length);
    await validate.writeFile('big.txt', Readable.from([large]), 'text/plain');
    expect((await text(await validate.openFile('validate', 'big.txt'))).length).toBe(large.length);
    await text(await validate.openContent());
    const resumed = runOf(object, 'export', storage, new JobMemory());
    await text(await resumed.openFile('transform', 'records.ndjson'));
    expect(requests).toEqual([
      'GET doc/source/payload.json',
      'PUT doc/validate/big.txt',
      'GET doc/validate/big.txt',
      'GET doc/source/payload.json',
      'GET doc/transform/records.ndjson',
    ]);
  });

  it('downloads the content to one local file per job, shared by its operations and removed when the job is released', async () => {
    const large = 'y'.repeat(SMALL_CONTENT_BYTES + 1);
    const { storage, requests } = fakeStorage({ 'doc/source/payload.json': large });
    const object = objectWithSource(large.length);
    const memory = new JobMemory();
    const validate = await runOf(object, 'validate', storage, memory).contentFile();
    const thumbnail = await runOf(object, 'thumbnail', storage, memory).contentFile();
    expect(thumbnail).toEqual(validate);
    expect(validate.size).toBe(large.length);
    expect(validate.sha256).toBe(createHash('sha256').update(large).digest('hex'));
    expect(await readFile(validate.path, 'utf8')).toBe(large);
    expect(requests).toEqual(['GET doc/source/payload.json']);
    await memory.release();
    expect(existsSync(validate.path)).toBe(false);
    // A job delivered again (here: the same job after release) downloads its own copy.
    const redelivered = new JobMemory();
    const again = await runOf(object, 'thumbnail', storage, redelivered).contentFile();
    expect(await readFile(again.path, 'utf8')).toBe(large);
    await redelivered.release();
    expect(requests).toEqual(['GET doc/source/payload.json', 'GET doc/source/payload.json']);
  });

  it('does not keep a local copy whose download failed', async () => {
    const { storage, requests } = fakeStorage({ 'doc/source/payload.json': 'z'.repeat(SMALL_CONTENT_BYTES + 1) });
    let failures = 1;
    const flaky = Object.assign(Object.create(storage) as StorageService, {
      async getStream(key: string) {
        if (failures-- > 0) {
          requests.push(`GET ${key} (broken)`);
          return new Readable({ read() { this.destroy(new Error('connection reset')); } });
        }
        return storage.getStream(key);
      },
    });
    const memory = new JobMemory();
    const object = objectWithSource(SMALL_CONTENT_BYTES + 1);
    await expect(runOf(object, 'validate', flaky, memory).contentFile()).rejects.toThrow('connection reset');
    const retried = await runOf(object, 'validate', flaky, memory).contentFile();
    expect(retried.size).toBe(SMALL_CONTENT_BYTES + 1);
    expect(requests).toEqual(['GET doc/source/payload.json (broken)', 'GET doc/source/payload.json']);
    await memory.release();
    expect(existsSync(retried.path)).toBe(false);
  });
});
