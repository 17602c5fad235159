import { getEventListeners } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { AppConfig, ConfigError } from '../config/app-config';
import { StorageService, UPLOAD_PART_SIZE } from './storage.service';

/** Against the test run's s3rver (S3_ENDPOINT, set by test/global-setup.ts). */
describe('StorageService.presignGet', () => {
  const endpoint = new URL(process.env.S3_ENDPOINT!);
  const key = `presign/${Date.now().toString(36)}.txt`;
  const services: StorageService[] = [];

  async function storage(overrides: Record<string, string> = {}): Promise<StorageService> {
    const service = new StorageService(new AppConfig({ ...process.env, ...overrides }));
    services.push(service);
    await service.ensureBucket();
    return service;
  }

  afterAll(() => {
    services.forEach((service) => service.onApplicationShutdown());
  });

  it('signs for S3_ENDPOINT when no public endpoint is set', async () => {
    const service = await storage();
    await service.putBuffer(key, Buffer.from('stored bytes'), 'text/plain');
    const { url } = await service.presignGet(key);
    expect(url.startsWith(`${endpoint.origin}/${service.bucket}/${key}?`)).toBe(true);
    expect(await (await fetch(url)).text()).toBe('stored bytes');
  });

  it('signs for S3_PUBLIC_ENDPOINT when set, and the URL downloads from the same server under that name', async () => {
    // The same s3rver, reached as localhost instead of 127.0.0.1: what a browser on the host does with compose's MinIO.
    const publicEndpoint = `http://localhost:${endpoint.port}`;
    const service = await storage({ S3_PUBLIC_ENDPOINT: publicEndpoint });
    await service.putBuffer(key, Buffer.from('public bytes'), 'text/plain');
    const { url } = await service.presignGet(key);
    expect(url.startsWith(`${publicEndpoint}/${service.bucket}/${key}?`)).toBe(true);
    expect(url).toContain('X-Amz-Signature=');
    const download = await fetch(url);
    expect(download.status).toBe(200);
    expect(await download.text()).toBe('public bytes');
  });

  it.each(['minio:9000', 'ftp://minio:9000', 'not a url'])('refuses S3_PUBLIC_ENDPOINT=%s at start-up, naming the variable', (value) => {
    expect(() => new AppConfig({ S3_PUBLIC_ENDPOINT: value })).toThrow(ConfigError);
    expect(() => new AppConfig({ S3_PUBLIC_ENDPOINT: value })).toThrow(/S3_PUBLIC_ENDPOINT/);
  });
});

describe('StorageService.putStream', () => {
  const service = new StorageService(new AppConfig(process.env));
  const prefix = `put-stream/${Date.now().toString(36)}`;

  beforeAll(() => service.ensureBucket());
  afterAll(async () => {
    await service.deletePrefix(prefix);
    service.onApplicationShutdown();
  });

  it('leaves no listener on a signal that outlives its uploads (an operation process passes one signal to every run)', async () => {
    const signal = new AbortController().signal;
    for (const index of [1, 2, 3]) {
      await service.putStream(`${prefix}/kept-${index}.txt`, Readable.from([Buffer.from(`upload ${index}`)]), 'text/plain', signal);
    }
    await expect(service.putStream(`${prefix}/failed.txt`, brokenSource(), 'text/plain', signal)).rejects.toThrow('broken source');
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect((await service.getBuffer(`${prefix}/kept-3.txt`)).toString()).toBe('upload 3');
  });

  it('refuses to start under a signal already aborted, closes the body, and stores nothing', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled before the upload'));
    const body = Readable.from([Buffer.from('never')]);
    await expect(service.putStream(`${prefix}/never.txt`, body, 'text/plain', controller.signal)).rejects.toThrow(
      'cancelled before the upload',
    );
    expect(body.destroyed).toBe(true);
    expect(await service.listKeys(`${prefix}/never`)).toEqual([]);
  });

  it('stops an upload whose signal aborts once its first part is on its way, and stores nothing', async () => {
    const controller = new AbortController();
    const chunk = Buffer.alloc(256 * 1024, 1);
    let produced = 0;
    // Never ends: only the abort, once more than a part has been read, stops the upload.
    const body = new Readable({
      read() {
        if (produced > UPLOAD_PART_SIZE) {
          controller.abort(new Error('cancelled mid-upload'));
          return;
        }
        produced += chunk.length;
        this.push(chunk);
      },
    });
    await expect(service.putStream(`${prefix}/aborted.bin`, body, 'application/octet-stream', controller.signal)).rejects.toThrow(/abort/i);
    // The pipeline feeding the upload closes the body as it unwinds, a tick after the upload rejects.
    await new Promise(setImmediate);
    expect(body.destroyed).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(await service.listKeys(`${prefix}/aborted`)).toEqual([]);
  });
});

/** A body that fails after its first bytes, as a source read from a dropped connection does. */
function brokenSource(): Readable {
  const body = new PassThrough();
  body.write('first bytes');
  setImmediate(() => body.destroy(new Error('broken source')));
  return body;
}
