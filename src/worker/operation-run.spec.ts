import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { ArtifactsService } from '../objects/artifacts.service';
import type { StorageService } from '../storage/storage.service';
import { JobCarry, JobCarryHolder, JobMemory, SMALL_CONTENT_BYTES, removeAbandonedJobDirectories } from './job-memory';
import { ObjectForRun, OperationRun } from './operation-run';

/** An in-memory bucket that counts the requests it gets. */
function fakeStorage(contents: Record<string, string>) {
  const bucket = new Map<string, Buffer>(Object.entries(contents).map(([key, value]) => [key, Buffer.from(value)]));
  const requests: string[] = [];
  const storage = {
    keyOf: (url: string) => url.slice('s3://bucket/'.length),
    s3Url: (key: string) => `s3://bucket/${key}`,
    getStream(key: string) {
      requests.push(`GET ${key}`);
      return Promise.resolve(Readable.from([bucket.get(key)!]));
    },
    getBuffer(key: string) {
      requests.push(`GET ${key}`);
      return Promise.resolve(bucket.get(key)!);
    },
    putBuffer(key: string, body: Buffer) {
      requests.push(`PUT ${key}`);
      bucket.set(key, body);
      return Promise.resolve({ key, s3Url: `s3://bucket/${key}`, size: body.length });
    },
    async putStream(key: string, body: Readable, _type: string, _signal?: AbortSignal, keepUpTo = 0) {
      requests.push(`PUT ${key}`);
      const chunks: Buffer[] = [];
      for await (const chunk of body) {
        chunks.push(Buffer.from(chunk as Buffer));
      }
      const stored = Buffer.concat(chunks);
      bucket.set(key, stored);
      return { key, s3Url: `s3://bucket/${key}`, size: stored.length, ...(stored.length <= keepUpTo ? { body: stored } : {}) };
    },
    copy(from: string, to: string) {
      requests.push(`COPY ${from} ${to}`);
      bucket.set(to, bucket.get(from)!);
      return Promise.resolve({ key: to, s3Url: `s3://bucket/${to}`, size: bucket.get(to)!.length });
    },
  };
  return { storage: storage as unknown as StorageService, requests };
}

function objectWithSource(size: number): ObjectForRun {
  return {
    id: 'id-1',
    identifier: 'doc',
    metadata: {},
    options: {},
    plan: ['validate', 'transform'],
    operationsStatus: {},
    createdAt: new Date(),
    source: { content_type: 'application/json', size, sha256: 'x', s3_url: 's3://bucket/doc/source/payload.json' },
    sourceInline: null,
  };
}

/**
 * One job as its processor runs it: each operation run gets a copy of the job's carry, as an operation process
 * would, and what it adds is merged back (copied again) before the next one starts.
 */
class Job {
  private running?: JobMemory;

  private constructor(private readonly holder: JobCarryHolder) {}

  static start(): Job {
    return new Job(JobCarryHolder.create());
  }

  run(object: ObjectForRun, operation: string, storage: StorageService): OperationRun {
    this.finishRunning();
    const memory = new JobMemory(structuredClone(this.holder.carry));
    this.running = memory;
    return new OperationRun(object, operation, new AbortController().signal, {
      storage,
      memory,
      artifacts: {} as ArtifactsService,
      reportProgress: () => undefined,
    });
  }

  get carry(): JobCarry {
    this.finishRunning();
    return this.holder.carry;
  }

  async release(): Promise<void> {
    this.finishRunning();
    await this.holder.release();
  }

  private finishRunning(): void {
    if (this.running) {
      this.holder.merge(structuredClone(this.running.additions()));
      this.running = undefined;
    }
  }
}

describe('OperationRun', () => {
  it('reads small content of a job from S3 once: the source, and files written earlier in the job', async () => {
    const { storage, requests } = fakeStorage({ 'doc/source/payload.json': '[1,2]' });
    const job = Job.start();
    const object = objectWithSource(5);
    const validate = job.run(object, 'validate', storage);
    expect(await text(await validate.openContent())).toBe('[1,2]');
    expect(await text(await validate.openContent())).toBe('[1,2]');
    const transform = job.run(object, 'transform', storage);
    expect(await text(await transform.openContent())).toBe('[1,2]');
    await transform.writeFile('records.ndjson', Readable.from(['1\n', '2\n']), 'application/x-ndjson');
    const exporting = job.run(object, 'export', storage);
    expect(await text(await exporting.openFile('transform', 'records.ndjson'))).toBe('1\n2\n');
    await exporting.copyFile('transform', 'records.ndjson', 'records.ndjson');
    // Nothing was written locally: the job's directory was never made.
    expect(existsSync(job.carry.directory)).toBe(false);
    await job.release();
    expect(requests).toEqual(['GET doc/source/payload.json', 'PUT doc/transform/records.ndjson', 'PUT doc/export/records.ndjson']);
  });

  it('reads a source kept inline from the task itself, with no request to S3', async () => {
    const { storage, requests } = fakeStorage({});
    const object: ObjectForRun = {
      ...objectWithSource(5),
      source: { content_type: 'application/json', size: 5, sha256: 'x' },
      sourceInline: new Uint8Array(Buffer.from('[1,2]')),
    };
    const job = Job.start();
    expect(await text(await job.run(object, 'validate', storage).openContent())).toBe('[1,2]');
    expect(await readFile((await job.run(object, 'transform', storage).contentFile()).path, 'utf8')).toBe('[1,2]');
    await job.release();
    expect(requests).toEqual([]);
  });

  it('streams large content from S3 every time, and a new job starts with nothing in memory', async () => {
    const large = 'x'.repeat(SMALL_CONTENT_BYTES + 1);
    const { storage, requests } = fakeStorage({ 'doc/source/payload.json': large, 'doc/transform/records.ndjson': '1\n' });
    const object = objectWithSource(large.length);
    const job = Job.start();
    const validate = job.run(object, 'validate', storage);
    expect((await text(await validate.openContent())).length).toBe(large.length);
    await validate.writeFile('big.txt', Readable.from([large]), 'text/plain');
    expect((await text(await validate.openFile('validate', 'big.txt'))).length).toBe(large.length);
    await text(await validate.openContent());
    await job.release();
    const redelivered = Job.start();
    await text(await redelivered.run(object, 'export', storage).openFile('transform', 'records.ndjson'));
    await redelivered.release();
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
    const job = Job.start();
    const validate = await job.run(object, 'validate', storage).contentFile();
    const thumbnail = await job.run(object, 'thumbnail', storage).contentFile();
    expect(thumbnail).toEqual(validate);
    expect(validate.size).toBe(large.length);
    expect(validate.sha256).toBe(createHash('sha256').update(large).digest('hex'));
    expect(await readFile(validate.path, 'utf8')).toBe(large);
    expect(requests).toEqual(['GET doc/source/payload.json']);
    await job.release();
    expect(existsSync(validate.path)).toBe(false);
    // A job delivered again downloads its own copy.
    const redelivered = Job.start();
    const again = await redelivered.run(object, 'thumbnail', storage).contentFile();
    expect(await readFile(again.path, 'utf8')).toBe(large);
    await redelivered.release();
    expect(requests).toEqual(['GET doc/source/payload.json', 'GET doc/source/payload.json']);
  });

  it('hands shared bytes to the later operations of the job through a file of its own, gone when the job is released', async () => {
    const { storage } = fakeStorage({});
    const object = objectWithSource(10);
    const job = Job.start();
    const pixels = Buffer.from([0, 255, 7, 8, 9, 10]);
    await job.run(object, 'validate', storage).shareInJob('image:fitted', { about: { box: [1200, 1200], channels: 3 }, bytes: pixels });
    const thumbnail = job.run(object, 'thumbnail', storage);
    expect(await thumbnail.sharedInJob('image:fitted')).toEqual({ about: { box: [1200, 1200], channels: 3 }, bytes: pixels });
    expect(await thumbnail.sharedInJob('image:other')).toBeUndefined();
    const path = job.carry.shared.find(([key]) => key === 'image:fitted')?.[1].path ?? '';
    expect(existsSync(path)).toBe(true);
    expect(join(path, '..')).toBe(job.carry.directory);
    expect((await stat(job.carry.directory)).mode & 0o777).toBe(0o700);
    // A file that is gone is nothing shared: the later operation makes what it needs itself.
    await rm(path);
    expect(await job.run(object, 'thumbnail', storage).sharedInJob('image:fitted')).toBeUndefined();
    await job.release();
    expect(existsSync(join(path, '..'))).toBe(false);
    const redelivered = Job.start();
    expect(await redelivered.run(object, 'thumbnail', storage).sharedInJob('image:fitted')).toBeUndefined();
    await redelivered.release();
  });

  it('does not keep a local copy whose download failed', async () => {
    const { storage, requests } = fakeStorage({ 'doc/source/payload.json': 'z'.repeat(SMALL_CONTENT_BYTES + 1) });
    let failures = 1;
    const flaky = Object.assign(Object.create(storage) as StorageService, {
      async getStream(key: string) {
        if (failures-- > 0) {
          requests.push(`GET ${key} (broken)`);
          return new Readable({
            read() {
              this.destroy(new Error('connection reset'));
            },
          });
        }
        return storage.getStream(key);
      },
    });
    const job = Job.start();
    const object = objectWithSource(SMALL_CONTENT_BYTES + 1);
    const validate = job.run(object, 'validate', flaky);
    await expect(validate.contentFile()).rejects.toThrow('connection reset');
    const retried = await validate.contentFile();
    expect(retried.size).toBe(SMALL_CONTENT_BYTES + 1);
    expect(requests).toEqual(['GET doc/source/payload.json (broken)', 'GET doc/source/payload.json']);
    await job.release();
    expect(existsSync(retried.path)).toBe(false);
  });
});

describe('removeAbandonedJobDirectories', () => {
  it('removes the job directories of worker processes that no longer run, and only those', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'job-directories-'));
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    const names = [`ops-job-${gone}-abc`, `ops-job-${process.pid}-def`, `ops-job-${process.ppid}-ghi`, 'ops-job-xyz', 'other-1-a'];
    for (const name of names) {
      await mkdir(join(directory, name));
      await writeFile(join(directory, name, 'content'), 'x');
    }
    expect(await removeAbandonedJobDirectories(directory)).toBe(1);
    expect((await readdir(directory)).sort()).toEqual(names.slice(1).sort());
    await rm(directory, { recursive: true, force: true });
  });
});
