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

/** What a request answered early leaves to wait for its count: nothing more is told to it. */
const countedOnly: Answer = () => undefined;

interface CountingRedis extends Redis {
  addRateLimitedRequests(key: string, requests: number, windowMs: number): Promise<[number, number]>;
}

/**
 * The requests of one client waiting for their count, and whether a count of earlier ones (`sent` of them) is on its
 * way; `urgent` when one of those waiting waits for its number (their count goes as soon as none is on its way),
 * `delayed` while a count of requests answered early waits to be sent with more of them; `timeWindow` is the limit's
 * window (one store counts one limit).
 */
interface ClientQueue {
  waiting: Answer[];
  sending: boolean;
  sent: number;
  urgent: boolean;
  delayed?: NodeJS.Timeout;
  timeWindow: number;
}

/** A client's count as Redis last answered it: its total in the window, when that window ends, and when it answered. */
interface KnownCount {
  total: number;
  windowEndsAt: number;
  answeredAt: number;
}

/** A request is answered before its count only while its client is at most this share of its limit… */
const ANSWER_EARLY_UP_TO = 0.5;
/** …by a count Redis answered at most this long ago… */
const KNOWN_COUNT_FRESH_MS = 1000;
/** …and while at most this share of the limit (at least one request) waits for one count of the client's. */
const ANSWER_EARLY_PER_COUNT = 0.05;
/** Clients whose last count is kept (beyond it, a new client's requests all wait for their count). */
const KNOWN_COUNTS_MAX = 10_000;
/** How long the count of requests answered early waits for more of the client's, unless one that waits for its number comes first. */
export const EARLY_COUNT_DELAY_MS = 25;

/**
 * A Redis store for @fastify/rate-limit that counts a client's concurrent requests with one command:
 * the first request of a client is sent at once; requests of the same client that arrive while its
 * count is on its way wait and are sent together next, as one INCRBY. While Redis answers, every
 * request is counted there, by every API process; a busy client costs one Redis round trip per batch
 * instead of one per request.
 *
 * A request does not wait for its count while its client is far from its limit: when Redis answered the
 * client's count to this process within the last second, that count plus the client's requests on their
 * way here and this one is at most half the limit, and those on their way are at most 5 % of it, the
 * request is answered at once with that number and counted with the next batch. In one process that
 * number is exact; across processes it may miss what the others counted since. From half a limit on,
 * each request waits for its own exact number, in arrival order, as if counted one by one. So one process
 * never lets a client past its limit, and P processes at most by P × 5 % of it in a window: each answers
 * at most that many on a count the others have since raised before its next count tells it. Under load,
 * waiting for the count was a sixth of a progress read's time (bench/, split read).
 *
 * Requests answered early are not sent at once: their count waits EARLY_COUNT_DELAY_MS (from the first of
 * them, or from the answer to the count on its way meanwhile) to go with those answered after them, and goes
 * sooner with a request that waits for its number. Redis answers so fast that counting them as they came
 * cost a command for every request or two: an API process spent 9 % more CPU per progress read (143 against
 * 130 µs, API only, at 32 connections). The 5 % bound holds all the same, as those not yet sent are part of
 * it. A process that stops sends them before its connection closes (sendDelayed).
 *
 * A failed command fails the count of every request of its batch that waits, and of those that waited
 * behind it, so that no request waits longer than one command's timeout (@fastify/rate-limit then lets
 * them through uncounted). Every known count is forgotten with it (all clients share the connection), so
 * that the next request of any client waits and meets the failure too, and the rate limits log it once.
 * Times are monotonic (performance.now), so a wall clock set back keeps no count fresh for longer.
 */
export class CoalescingRedisStore implements FastifyRateLimitStore {
  private readonly queues = new Map<string, ClientQueue>();
  private readonly known = new Map<string, KnownCount>();
  private sweptAt = 0;

  constructor(
    private readonly redis: CountingRedis,
    private readonly keyPrefix: string,
  ) {}

  /** A store class as @fastify/rate-limit's `store` option takes it (it constructs it itself), counting under `keyPrefix`; each store it makes joins `made`. */
  static on(redis: Redis, keyPrefix: string, made: CoalescingRedisStore[] = []): FastifyRateLimitStoreCtor {
    const counting = redis as CountingRedis;
    if (typeof counting.addRateLimitedRequests !== 'function') {
      redis.defineCommand('addRateLimitedRequests', { numberOfKeys: 1, lua: ADD_REQUESTS });
    }
    return class extends CoalescingRedisStore {
      constructor() {
        super(counting, keyPrefix);
        made.push(this);
      }
    };
  }

  /** Sends every count that waits for more requests answered early at once: for a process that stops, before its connection closes. */
  sendDelayed(): void {
    for (const [key, queue] of this.queues) {
      if (queue.delayed) {
        this.send(key, queue);
      }
    }
  }

  incr(client: string, answer: Answer, timeWindow: number, max: number): void {
    const key = this.keyPrefix + client;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { waiting: [], sending: false, sent: 0, urgent: false, timeWindow };
      this.queues.set(key, queue);
    }
    const answeredEarly = this.answerEarly(key, queue, answer, max);
    queue.waiting.push(answeredEarly ? countedOnly : answer);
    queue.urgent ||= !answeredEarly;
    if (!queue.sending) {
      this.sendOrDelay(key, queue);
    }
  }

  /** Answers `answer` at once when its client is far enough from `max` (see the class); says whether it did. */
  private answerEarly(key: string, queue: ClientQueue, answer: Answer, max: number): boolean {
    const known = this.known.get(key);
    if (!known) {
      return false;
    }
    const now = performance.now();
    if (now >= known.windowEndsAt || now - known.answeredAt > KNOWN_COUNT_FRESH_MS) {
      this.known.delete(key);
      return false;
    }
    const uncounted = queue.sent + queue.waiting.length + 1;
    const current = known.total + uncounted;
    if (current > max * ANSWER_EARLY_UP_TO || uncounted > Math.max(1, max * ANSWER_EARLY_PER_COUNT)) {
      return false;
    }
    answer(null, { current, ttl: known.windowEndsAt - now });
    return true;
  }

  /** Keeps a client's count as Redis answered it; when full, makes room by forgetting stale ones, at most once per freshness period. */
  private remember(key: string, total: number, ttl: number): void {
    const now = performance.now();
    if (this.known.size >= KNOWN_COUNTS_MAX && !this.known.has(key)) {
      if (now - this.sweptAt < KNOWN_COUNT_FRESH_MS) {
        return;
      }
      this.sweptAt = now;
      for (const [other, known] of this.known) {
        if (now - known.answeredAt > KNOWN_COUNT_FRESH_MS) {
          this.known.delete(other);
        }
      }
      if (this.known.size >= KNOWN_COUNTS_MAX) {
        return;
      }
    }
    this.known.set(key, { total, windowEndsAt: now + ttl, answeredAt: now });
  }

  /** Asked for by per-route limits (a route's `config.rateLimit`), which this API does not set: its limits are per client. */
  child(): FastifyRateLimitStore {
    throw new Error('CoalescingRedisStore counts per client only: per-route rate limits are not configured in this API');
  }

  /** Sends the waiting requests' count now when one of them waits for its number, else once the delay for early ones is over. */
  private sendOrDelay(key: string, queue: ClientQueue): void {
    if (queue.urgent) {
      this.send(key, queue);
    } else {
      queue.delayed ??= setTimeout(() => this.send(key, queue), EARLY_COUNT_DELAY_MS).unref();
    }
  }

  private send(key: string, queue: ClientQueue): void {
    clearTimeout(queue.delayed);
    queue.delayed = undefined;
    const batch = queue.waiting;
    queue.waiting = [];
    queue.sending = true;
    queue.urgent = false;
    queue.sent = batch.length;
    const answered = (error: Error | null, counted?: [number, number]) => {
      queue.sent = 0;
      if (counted) {
        const [total, ttl] = counted;
        this.remember(key, total, ttl);
        batch.forEach((answer, index) => answer(null, { current: total - batch.length + 1 + index, ttl }));
      } else {
        this.known.clear();
        batch.forEach((answer) => answer(error));
        queue.waiting.splice(0).forEach((answer) => answer(error));
      }
      // Only now: a request counted from within an answer above joins `waiting` rather than sending a count of its own.
      queue.sending = false;
      if (queue.waiting.length > 0) {
        this.sendOrDelay(key, queue);
      } else {
        this.queues.delete(key);
      }
    };
    this.redis.addRateLimitedRequests(key, batch.length, queue.timeWindow).then(
      (counted) => answered(null, counted),
      (error: Error) => answered(error),
    );
  }
}
