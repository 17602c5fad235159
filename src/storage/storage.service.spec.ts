import { AppConfig, ConfigError } from '../config/app-config';
import { StorageService } from './storage.service';

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
