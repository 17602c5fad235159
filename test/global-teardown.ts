import { Redis } from 'ioredis';
import { dropDatabase } from './test-environment';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __LOCAL_S3__?: { stop(): Promise<void> } }).__LOCAL_S3__?.stop();
  await dropDatabase(process.env.DATABASE_URL!);
  const redis = new Redis(process.env.REDIS_URL!);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${process.env.REDIS_PREFIX}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
