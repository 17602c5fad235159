import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { CoalescingRedisStore } from '../src/rate-limits/coalescing-redis-store';
import { uniquePrefix } from './support/test-app';

interface Count {
  current: number;
  ttl: number;
}

/** One request counted by `store` for `client`: its count, or the error the store answered with. */
function count(store: FastifyRateLimitStore, client: string, windowMs = 60_000): Promise<Count> {
  return new Promise((resolve, reject) =>
    store.incr(client, (error, counted) => (error ? reject(error) : resolve(counted!)), windowMs, Number.MAX_SAFE_INTEGER),
  );
}

/** A connection whose commands are counted, as each API process has one of its own. */
function connection(): { redis: Redis; commands: () => number } {
  const redis = new Redis(process.env.REDIS_URL!);
  let sent = 0;
  const sendCommand = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    sent++;
    return sendCommand(...args);
  };
  return { redis, commands: () => sent };
}

describe('CoalescingRedisStore (the rate limits counted in Redis)', () => {
  const connections: Redis[] = [];
  const storeOn = (prefix: string) => {
    const { redis, commands } = connection();
    connections.push(redis);
    const Store = CoalescingRedisStore.on(redis, prefix);
    return { store: new Store({}), redis, commands };
  };

  afterAll(async () => {
    await Promise.all(connections.map((redis) => redis.quit()));
  });

  it('gives concurrent requests of one client each its own number, in arrival order, with far fewer commands than requests', async () => {
    const prefix = `${uniquePrefix()}:rl:`;
    const { store, redis, commands } = storeOn(prefix);
    await redis.ping();
    const before = commands();

    const counts = await Promise.all(Array.from({ length: 200 }, () => count(store, 'client-a')));

    expect(counts.map((counted) => counted.current)).toEqual(Array.from({ length: 200 }, (_, index) => index + 1));
    expect(counts.every((counted) => counted.ttl > 0 && counted.ttl <= 60_000)).toBe(true);
    expect(commands() - before).toBeLessThan(10);
    expect(Number(await redis.get(`${prefix}client-a`))).toBe(200);
    expect(await redis.pttl(`${prefix}client-a`)).toBeGreaterThan(0);
  });

  it('sends a lone request at once and counts clients apart', async () => {
    const prefix = `${uniquePrefix()}:rl:`;
    const { store } = storeOn(prefix);
    expect((await count(store, 'one')).current).toBe(1);
    expect((await count(store, 'two')).current).toBe(1);
    expect((await count(store, 'one')).current).toBe(2);
  });

  it('starts a new window once the last one has expired', async () => {
    const prefix = `${uniquePrefix()}:rl:`;
    const { store } = storeOn(prefix);
    await Promise.all([count(store, 'c', 300), count(store, 'c', 300)]);
    const third = await count(store, 'c', 300);
    expect(third.current).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, third.ttl + 50));
    const fresh = await count(store, 'c', 300);
    expect(fresh.current).toBe(1);
    expect(fresh.ttl).toBeGreaterThan(200);
  });

  it('answers every request of a batch with the error when Redis does not answer, and counts again afterwards', async () => {
    const prefix = `${uniquePrefix()}:rl:`;
    const redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    connections.push(redis);
    const store = new (CoalescingRedisStore.on(redis, prefix))({});

    const failed = await Promise.allSettled(Array.from({ length: 5 }, () => count(store, 'offline')));
    expect(failed.map((result) => result.status)).toEqual(Array(5).fill('rejected'));

    // The failed commands started the lazy connection.
    if (redis.status !== 'ready') {
      await new Promise((resolve) => redis.once('ready', resolve));
    }
    expect((await count(store, 'offline')).current).toBe(1);
  });

  it('gives a counter that lost its expiry a window again, rather than limiting its client for good', async () => {
    const prefix = `${uniquePrefix()}:rl:`;
    const { store, redis } = storeOn(prefix);
    await count(store, 'kept');
    await redis.persist(`${prefix}kept`);
    const counted = await count(store, 'kept', 5000);
    expect(counted.current).toBe(2);
    expect(counted.ttl).toBe(5000);
    expect(await redis.pttl(`${prefix}kept`)).toBeGreaterThan(0);
  });

  it('fails the requests that waited behind a failed count with it: none waits for a second timeout', async () => {
    // A Redis whose commands are answered by hand: the first count hangs until it is failed.
    const calls: { requests: number; fail: (error: Error) => void }[] = [];
    const hanging = {
      defineCommand: () => undefined,
      addRateLimitedRequests: (_key: string, requests: number) => new Promise((_resolve, reject) => calls.push({ requests, fail: reject })),
    } as unknown as Redis;
    const store = new (CoalescingRedisStore.on(hanging, 'p:'))({});
    const first = count(store, 'c');
    const waiting = [count(store, 'c'), count(store, 'c')];
    expect(calls.map((call) => call.requests)).toEqual([1]);

    calls[0]!.fail(new Error('Command timed out'));

    const settled = await Promise.allSettled([first, ...waiting]);
    expect(settled.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(calls).toHaveLength(1);
    // The next request is sent at once.
    const next = count(store, 'c');
    expect(calls.map((call) => call.requests)).toEqual([1, 1]);
    calls[1]!.fail(new Error('still down'));
    await expect(next).rejects.toThrow('still down');
  });

  it('counts exactly as one INCR per request would, across processes and clients, whatever the interleaving (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ process: fc.integer({ min: 0, max: 1 }), client: fc.constantFrom('x', 'y', 'z'), pause: fc.boolean() }), {
          minLength: 1,
          maxLength: 60,
        }),
        async (requests) => {
          const prefix = `${uniquePrefix()}:rl:`;
          const processes = [storeOn(prefix).store, storeOn(prefix).store];
          const pending: Promise<Count & { client: string }>[] = [];
          for (const request of requests) {
            pending.push(count(processes[request.process]!, request.client).then((counted) => ({ ...counted, client: request.client })));
            if (request.pause) {
              // Lets earlier counts go out, so that batches of every size occur.
              await new Promise((resolve) => setImmediate(resolve));
            }
          }
          const counts = await Promise.all(pending);
          for (const client of ['x', 'y', 'z']) {
            const numbers = counts
              .filter((counted) => counted.client === client)
              .map((counted) => counted.current)
              .sort((a, b) => a - b);
            expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, index) => index + 1));
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
