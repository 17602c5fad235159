import { GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import fc from 'fast-check';
import { AppConfig } from '../config/app-config';
import { GetUrlSigner } from './get-url-signer';
import { createS3Client } from './s3-client.factory';
import { StorageService } from './storage.service';

const SIGNING_DATE = new Date('2026-12-06T10:00:00Z');
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** Keys as users name them: any characters, slashes among them, RFC 3986's reserved and S3's awkward ones more often. */
const keys = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
      fc.constantFrom('/', ' ', '+', '%', '!', "'", '(', ')', '*', '~', '?', '#', '&', '=', ':', '@', '..', 'é', '😀'),
    ),
    {
      minLength: 1,
      maxLength: 12,
    },
  )
  .map((parts) => parts.join(''));

/** Presigning makes no request: these clients point at servers that are never contacted. */
const configurations: [string, S3ClientConfig][] = [
  ['a path-style endpoint with a port', { endpoint: 'http://127.0.0.1:4569', forcePathStyle: true, region: 'us-east-1', credentials }],
  [
    'an endpoint with a path of its own',
    { endpoint: 'https://gateway.example.com/storage', forcePathStyle: true, region: 'eu-central-1', credentials },
  ],
  ['AWS, virtual-hosted', { region: 'eu-west-1', credentials }],
  ['temporary credentials', { region: 'us-west-2', credentials: { ...credentials, sessionToken: 'FwoGZXIvYXdzEBYaD+token/with=chars' } }],
];

describe('GetUrlSigner', () => {
  const clients: S3Client[] = [];
  const client = (config: S3ClientConfig) => {
    const created = new S3Client({ ...config, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    clients.push(created);
    return created;
  };

  afterAll(() => clients.forEach((created) => created.destroy()));

  it.each(configurations)('gives the URL getSignedUrl gives, for any key, with %s', async (_name, config) => {
    const s3 = client(config);
    const signer = new GetUrlSigner(s3, 'artifacts-bucket');
    await fc.assert(
      fc.asyncProperty(keys, fc.integer({ min: 1, max: 604_800 }), async (key, expiresIn) => {
        const expected = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'artifacts-bucket', Key: key }), {
          expiresIn,
          signingDate: SIGNING_DATE,
        });
        expect(await signer.sign(key, expiresIn, SIGNING_DATE)).toBe(expected);
      }),
      { numRuns: 150 },
    );
  });

  it('signs URLs that download what is stored under awkward keys (s3rver)', async () => {
    const config = new AppConfig(process.env);
    const storage = new StorageService(config);
    await storage.ensureBucket();
    const s3 = createS3Client(config.s3);
    clients.push(s3);
    const signer = new GetUrlSigner(s3, config.s3.bucket);
    try {
      for (const [index, key] of [`signer/${Date.now()}/plain.json`, `signer/${Date.now()}/a b+c(1)!'*~é😀/x=y&z.txt`].entries()) {
        await s3.send(new PutObjectCommand({ Bucket: config.s3.bucket, Key: key, Body: `bytes ${index}`, ContentType: 'text/plain' }));
        const download = await fetch(await signer.sign(key, 60));
        expect(download.status).toBe(200);
        expect(await download.text()).toBe(`bytes ${index}`);
      }
    } finally {
      storage.onApplicationShutdown();
    }
  });

  it('tries the endpoint again after a failure to resolve it (credentials not there yet), and then signs', async () => {
    let calls = 0;
    const s3 = client({
      region: 'us-east-1',
      credentials: () => {
        calls++;
        return calls === 1 ? Promise.reject(new Error('no credentials yet')) : Promise.resolve(credentials);
      },
    });
    const signer = new GetUrlSigner(s3, 'artifacts-bucket');
    await expect(signer.sign('report.json', 60)).rejects.toThrow('no credentials yet');
    expect(await signer.sign('report.json', 60)).toMatch(
      /^https:\/\/artifacts-bucket\.s3\.us-east-1\.amazonaws\.com\/report\.json\?.*X-Amz-Signature=/,
    );
  });
});
