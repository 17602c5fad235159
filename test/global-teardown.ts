import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { dropDatabase } from './test-environment';

export default async function globalTeardown(): Promise<void> {
  const s3 = (globalThis as { __LOCAL_S3__?: { stop(): Promise<void>; directory: string } }).__LOCAL_S3__;
  await s3?.stop();
  if (s3) {
    rmSync(s3.directory, { recursive: true, force: true });
  }
  await dropDatabase(process.env.DATABASE_URL!);
  const redis = new Redis(process.env.REDIS_URL!);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${process.env.REDIS_PREFIX}*`, 'COUNT', 1000);
      if (keys.length > 0) {
        await redis.del(...keys);
      }
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
