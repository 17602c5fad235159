import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { CoalescingRedisStore, EARLY_COUNT_DELAY_MS } from '../src/rate-limits/coalescing-redis-store';
import { uniquePrefix } from './support/test-app';
import { waitFor } from './support/wait-for';

interface Count {
  current: number;
  ttl: number;
}

/**
 * One request counted by `store` for `client` under `limit`: its count, or the error the store answered with. The
 * default limit of 1 keeps every request near it, so that each waits for its exact number.
 */
function count(store: FastifyRateLimitStore, client: string, windowMs = 60_000, limit = 1): Promise<Count> {
  return new Promise((resolve, reject) =>
    store.incr(client, (error, counted) => (error ? reject(error) : resolve(counted!)), windowMs, limit),
  );
}

/** Whether `promise` has settled by now (after the microtasks already queued). */
async function settledNow(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await Promise.resolve();
  await Promise.resolve();
  return settled;
}

/** Lets the count of requests answered early go out: it waits that long for more of them. */
function earlyCountSent(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, EARLY_COUNT_DELAY_MS + 5));
}

/** A Redis whose counting commands are answered by hand, as the test says: each call records how many requests it counts. */
function redisAnsweredByHand(): {
  redis: Redis;
  calls: { requests: number; answer: (total: number, ttl: number) => void; fail: (error: Error) => void }[];
} {
  const calls: { requests: number; answer: (total: number, ttl: number) => void; fail: (error: Error) => void }[] = [];
  const redis = {
    defineCommand: () => undefined,
    addRateLimitedRequests: (_key: string, requests: number) =>
      new Promise((resolve, reject) => calls.push({ requests, answer: (total, ttl) => resolve([total, ttl]), fail: reject })),
  } as unknown as Redis;
  return { redis, calls };
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

/** A store on a Redis answered by hand, after it counted each of `clients` once and Redis answered `total` for each. */
async function storeThatCounted(clients: string[], total: number, limit: number) {
  const { redis, calls } = redisAnsweredByHand();
  const store = new (CoalescingRedisStore.on(redis, 'p:'))({});
  for (const [index, client] of clients.entries()) {
    const first = count(store, client, 60_000, limit);
    calls[index]!.answer(total, 60_000);
    await first;
  }
  return { store, calls };
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
    // The first count hangs until it is failed.
    const { redis: hanging, calls } = redisAnsweredByHand();
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

  it('answers a request far below its limit at once, without waiting for Redis, and still counts it', async () => {
    const { redis, calls } = redisAnsweredByHand();
    const store = new (CoalescingRedisStore.on(redis, 'p:'))({});
    const first = count(store, 'c', 60_000, 100);
    expect(await settledNow(first)).toBe(false);
    calls[0]!.answer(1, 60_000);
    expect(await first).toEqual({ current: 1, ttl: 60_000 });

    const second = count(store, 'c', 60_000, 100);
    const third = count(store, 'c', 60_000, 100);
    expect(await settledNow(second)).toBe(true);
    expect(await settledNow(third)).toBe(true);
    expect((await second).current).toBe(2);
    expect((await third).current).toBe(3);
    // Both are counted all the same, together, once the early ones have waited for more of theirs.
    expect(calls.map((call) => call.requests)).toEqual([1]);
    await earlyCountSent();
    expect(calls.map((call) => call.requests)).toEqual([1, 2]);
    calls[1]!.answer(3, 59_000);
    // The next one answered early waits for more again.
    expect(await settledNow(count(store, 'c', 60_000, 100))).toBe(true);
    expect(calls.map((call) => call.requests)).toEqual([1, 2]);
    await earlyCountSent();
    expect(calls.map((call) => call.requests)).toEqual([1, 2, 1]);
  });

  it('sends the count of requests answered early at once with a request that waits for its number', async () => {
    const { store, calls } = await storeThatCounted(['c'], 1, 100);
    const early = Array.from({ length: 5 }, () => count(store, 'c', 60_000, 100));
    expect(await Promise.all(early.map((counted) => settledNow(counted)))).toEqual(Array(5).fill(true));
    expect(calls.map((call) => call.requests)).toEqual([1]);
    // The sixth is past 5 % of the limit uncounted: it waits, and takes the five with it, without the delay.
    const waiting = count(store, 'c', 60_000, 100);
    expect(await settledNow(waiting)).toBe(false);
    expect(calls.map((call) => call.requests)).toEqual([1, 6]);
    calls[1]!.answer(7, 59_000);
    expect(await waiting).toEqual({ current: 7, ttl: 59_000 });
    // Nothing was left to send after the delay.
    await earlyCountSent();
    expect(calls).toHaveLength(2);
  });

  it('sends the counts that wait for more requests answered early at once when its process stops', async () => {
    const { redis, calls } = redisAnsweredByHand();
    const made: CoalescingRedisStore[] = [];
    const store = new (CoalescingRedisStore.on(redis, 'p:', made))({});
    expect(made).toEqual([store]);
    const first = count(store, 'c', 60_000, 100);
    calls[0]!.answer(1, 60_000);
    await first;
    expect(await settledNow(count(store, 'c', 60_000, 100))).toBe(true);
    expect(await settledNow(count(store, 'c', 60_000, 100))).toBe(true);
    expect(calls).toHaveLength(1);

    made[0]!.sendDelayed();
    expect(calls.map((call) => call.requests)).toEqual([1, 2]);
    await earlyCountSent();
    expect(calls).toHaveLength(2);
  });

  it('sends a request that waits for its number as soon as the count on its way is answered, without the delay', async () => {
    const { store, calls } = await storeThatCounted(['c'], 1, 100);
    expect(await settledNow(count(store, 'c', 60_000, 100))).toBe(true);
    await earlyCountSent();
    // Answered early while that count is on its way: it waits for the delay once the count is answered.
    const early = count(store, 'c', 60_000, 100);
    expect(await settledNow(early)).toBe(true);
    expect((await early).current).toBe(3);
    calls[1]!.answer(50, 59_000);
    await Promise.resolve();
    expect(calls.map((call) => call.requests)).toEqual([1, 1]);
    // Past half the limit, the next one waits for its number: it goes at once, with the one answered early.
    const waiting = count(store, 'c', 60_000, 100);
    expect(await settledNow(waiting)).toBe(false);
    expect(calls.map((call) => call.requests)).toEqual([1, 1, 2]);
    calls[2]!.answer(52, 58_000);
    expect(await waiting).toEqual({ current: 52, ttl: 58_000 });
  });

  it('makes every request wait for its exact number from half its limit on', async () => {
    const { store, calls } = await storeThatCounted(['c'], 49, 100);
    // 49 known + this one = 50: half of 100, still answered at once.
    const early = count(store, 'c', 60_000, 100);
    expect(await settledNow(early)).toBe(true);
    await earlyCountSent();
    calls[1]!.answer(50, 59_000);
    await Promise.resolve();
    // The 51st, alone on its way, waits all the same.
    const waiting = count(store, 'c', 60_000, 100);
    expect(await settledNow(waiting)).toBe(false);
    calls[2]!.answer(51, 58_000);
    expect(await waiting).toEqual({ current: 51, ttl: 58_000 });
  });

  it('trusts a count only for a second and within its window', async () => {
    const now = jest.spyOn(performance, 'now');
    try {
      now.mockReturnValue(1_000_000);
      const { redis, calls } = redisAnsweredByHand();
      const store = new (CoalescingRedisStore.on(redis, 'p:'))({});
      const first = count(store, 'stale', 60_000, 100);
      calls[0]!.answer(1, 60_000);
      await first;
      now.mockReturnValue(1_000_000 + 1000);
      expect(await settledNow(count(store, 'stale', 60_000, 100))).toBe(true);
      await earlyCountSent();
      calls[1]!.answer(2, 59_000);
      await Promise.resolve();
      now.mockReturnValue(1_000_000 + 1000 + 1001);
      expect(await settledNow(count(store, 'stale', 60_000, 100))).toBe(false);

      const other = count(store, 'short', 300, 100);
      calls[3]!.answer(1, 300);
      await other;
      now.mockReturnValue(1_000_000 + 2001 + 299);
      expect(await settledNow(count(store, 'short', 300, 100))).toBe(true);
      await earlyCountSent();
      calls[4]!.answer(2, 1);
      await Promise.resolve();
      // Its window, as last answered, ended with that answer's 1 ms.
      now.mockReturnValue(1_000_000 + 2001 + 300);
      expect(await settledNow(count(store, 'short', 300, 100))).toBe(false);
    } finally {
      now.mockRestore();
    }
  });

  it('answers at most 5 % of the limit at once while they wait for one count', async () => {
    const { store } = await storeThatCounted(['c'], 1, 100);
    const burst = Array.from({ length: 8 }, () => count(store, 'c', 60_000, 100));
    const settled = await Promise.all(burst.map((counted) => settledNow(counted)));
    expect(settled).toEqual([true, true, true, true, true, false, false, false]);
  });

  it("forgets every client's count when a count fails: the next request of each waits and meets the failure", async () => {
    const { store, calls } = await storeThatCounted(['a', 'b'], 1, 100);
    const early = count(store, 'a', 60_000, 100);
    expect(await settledNow(early)).toBe(true);
    await earlyCountSent();
    calls[2]!.fail(new Error('Command timed out'));
    await Promise.resolve();

    const nextOfA = count(store, 'a', 60_000, 100);
    const nextOfB = count(store, 'b', 60_000, 100);
    expect(await settledNow(nextOfA)).toBe(false);
    expect(await settledNow(nextOfB)).toBe(false);
    calls[3]!.fail(new Error('still down'));
    calls[4]!.fail(new Error('still down'));
    await expect(nextOfA).rejects.toThrow('still down');
    await expect(nextOfB).rejects.toThrow('still down');
  });

  it('counts every request in Redis and lets a client past its limit by at most 5 % of it per process, whatever the interleaving (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ process: fc.integer({ min: 0, max: 1 }), client: fc.constantFrom('x', 'y'), pause: fc.boolean() }), {
          minLength: 1,
          maxLength: 80,
        }),
        fc.integer({ min: 1, max: 60 }),
        async (requests, limit) => {
          const prefix = `${uniquePrefix()}:rl:`;
          const processes = [storeOn(prefix), storeOn(prefix)];
          const pending: Promise<Count & { client: string }>[] = [];
          for (const request of requests) {
            pending.push(
              count(processes[request.process]!.store, request.client, 60_000, limit).then((counted) => ({
                ...counted,
                client: request.client,
              })),
            );
            if (request.pause) {
              await new Promise((resolve) => setTimeout(resolve, 1));
            }
          }
          const counts = await Promise.all(pending);
          for (const client of ['x', 'y']) {
            const ofClient = counts.filter((counted) => counted.client === client);
            // A request answered early is counted with its process's next batch, which may still be on its way.
            await waitFor(async () => Number((await processes[0]!.redis.get(`${prefix}${client}`)) ?? 0) === ofClient.length, {
              timeoutMs: 5000,
              what: `${ofClient.length} requests of ${client} counted`,
            });
            const allowed = ofClient.filter((counted) => counted.current <= limit).length;
            expect(allowed).toBeLessThanOrEqual(limit + 2 * Math.max(1, Math.floor(limit * 0.05)));
            // A number above half the limit is always the exact one: no two requests get it.
            const high = ofClient.map((counted) => counted.current).filter((current) => current > limit / 2);
            expect(new Set(high).size).toBe(high.length);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('gives the requests of one process their exact numbers, whatever the limit (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 60 }), async (pauses, limit) => {
        const { store } = storeOn(`${uniquePrefix()}:rl:`);
        const pending: Promise<Count>[] = [];
        for (const pause of pauses) {
          pending.push(count(store, 'solo', 60_000, limit));
          if (pause) {
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        }
        const numbers = (await Promise.all(pending)).map((counted) => counted.current).sort((a, b) => a - b);
        expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, index) => index + 1));
      }),
      { numRuns: 25 },
    );
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
