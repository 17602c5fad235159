import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { AppConfig } from '../../src/config/app-config';
import { createS3Client } from '../../src/storage/s3-client.factory';

const s3Config = () => new AppConfig(process.env).s3;

/** The bytes stored at an s3:// URL, read back through a client of the test's own. */
export async function readS3(s3Url: string): Promise<Buffer> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(s3Url);
  if (!match) {
    throw new Error(`not an s3 url: ${s3Url}`);
  }
  const client = createS3Client(s3Config());
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }));
    return Buffer.from(await response.Body!.transformToByteArray());
  } finally {
    client.destroy();
  }
}

export async function readS3Json<T = Record<string, unknown>>(s3Url: string): Promise<T> {
  return JSON.parse((await readS3(s3Url)).toString('utf8')) as T;
}

/** Every key under `prefix` (the whole bucket by default), all pages of it, sorted. */
export async function listS3Keys(prefix = ''): Promise<string[]> {
  const config = s3Config();
  const client = createS3Client(config);
  const keys: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: config.bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((entry) => entry.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return keys.sort();
}
