import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';

/** How a store answers a count: this request's number in the window, and the window's time left in ms. */
type Answer = Parameters<FastifyRateLimitStore['incr']>[1];

/**
 * Adds `ARGV[1]` requests to a window's count in one step: the window starts (its expiry is set) with
 * its first requests; returns the new count and the window's time left. @fastify/rate-limit's own
 * script, for `n` requests at once (neither of its options `continueExceeding` and
 * `exponentialBackoff` is used here), which also gives an expiry back to a counter that lost its own
 * (PERSIST, a restore): without one, its client would stay limited for good.
 */
const ADD_REQUESTS = `
  local current = redis.call('INCRBY', KEYS[1], ARGV[1])
  local window = tonumber(ARGV[2])
  if current == tonumber(ARGV[1]) then
    redis.call('PEXPIRE', KEYS[1], window)
  else
    local left = redis.call('PTTL', KEYS[1])
    if left < 0 then
      redis.call('PEXPIRE', KEYS[1], window)
    else
      window = left
    end
  end
  return {current, window}`;

interface CountingRedis extends Redis {
  addRateLimitedRequests(key: string, requests: number, windowMs: number): Promise<[number, number]>;
}

/** The requests of one client waiting for their count, and whether a count of earlier ones is on its way. */
interface ClientQueue {
  waiting: Answer[];
  sending: boolean;
}

/**
 * A Redis store for @fastify/rate-limit that counts a client's concurrent requests with one command:
 * the first request of a client is sent at once; requests of the same client that arrive while its
 * count is on its way wait and are sent together next, as one INCRBY. Each still gets its own exact
 * number, in arrival order, as if counted one by one, so limits shared by API processes stay exact;
 * a busy client costs one Redis round trip per batch instead of one per request. A failed command
 * fails the count of every request of its batch, and of those that waited behind it, so that no
 * request waits longer than one command's timeout (@fastify/rate-limit then lets them through uncounted).
 */
export class CoalescingRedisStore implements FastifyRateLimitStore {
  private readonly queues = new Map<string, ClientQueue>();

  constructor(
    private readonly redis: CountingRedis,
    private readonly keyPrefix: string,
  ) {}

  /** A store class as @fastify/rate-limit's `store` option takes it (it constructs it itself), counting under `keyPrefix`. */
  static on(redis: Redis, keyPrefix: string): FastifyRateLimitStoreCtor {
    const counting = redis as CountingRedis;
    if (typeof counting.addRateLimitedRequests !== 'function') {
      redis.defineCommand('addRateLimitedRequests', { numberOfKeys: 1, lua: ADD_REQUESTS });
    }
    return class extends CoalescingRedisStore {
      constructor() {
        super(counting, keyPrefix);
      }
    };
  }

  incr(client: string, answer: Answer, timeWindow: number): void {
    const key = this.keyPrefix + client;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { waiting: [], sending: false };
      this.queues.set(key, queue);
    }
    queue.waiting.push(answer);
    if (!queue.sending) {
      this.send(key, queue, timeWindow);
    }
  }

  /** Asked for by per-route limits (a route's `config.rateLimit`), which this API does not set: its limits are per client. */
  child(): FastifyRateLimitStore {
    throw new Error('CoalescingRedisStore counts per client only: per-route rate limits are not configured in this API');
  }

  private send(key: string, queue: ClientQueue, timeWindow: number): void {
    const batch = queue.waiting;
    queue.waiting = [];
    queue.sending = true;
    const answered = (error: Error | null, counted?: [number, number]) => {
      if (counted) {
        const [total, ttl] = counted;
        batch.forEach((answer, index) => answer(null, { current: total - batch.length + 1 + index, ttl }));
      } else {
        batch.forEach((answer) => answer(error));
        queue.waiting.splice(0).forEach((answer) => answer(error));
      }
      if (queue.waiting.length > 0) {
        this.send(key, queue, timeWindow);
      } else {
        this.queues.delete(key);
      }
    };
    this.redis.addRateLimitedRequests(key, batch.length, timeWindow).then(
      (counted) => answered(null, counted),
      (error: Error) => answered(error),
    );
  }
}
