import fastifyRateLimit from '@fastify/rate-limit';
import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { clientKeyOf } from '../access/principal';
import { routedPathOf } from '../common/request-path';
import { closeGracefully } from '../common/close-gracefully';
import { RateLimitedError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import { CoalescingRedisStore } from './coalescing-redis-store';

/** Requests under this path are limited; probes, /metrics, /docs, /ui, / and the queue dashboard never are. */
const LIMITED_PATH_PREFIX = '/api/';

/** Routes that count against the submissions limit as well as the requests limit. */
const SUBMISSION_ROUTES = new Set(['POST /api/v1/process', 'POST /api/v1/process/upload', 'POST /api/v1/process/batch']);

/** A Redis that does not answer in this time lets the request through rather than hold it. */
const COMMAND_TIMEOUT_MS = 500;

type Check = ReturnType<FastifyInstance['createRateLimit']>;
type Count = Extract<Awaited<ReturnType<Check>>, { isAllowed: false }>;

interface Limit {
  /** What it counts, in the words of its 429: requests or submissions. */
  name: 'requests' | 'submissions';
  check: Check;
}

export function isRateLimited(path: string): boolean {
  return path.startsWith(LIMITED_PATH_PREFIX);
}

export function isSubmission(method: string, route: string | undefined): boolean {
  return SUBMISSION_ROUTES.has(`${method.toUpperCase()} ${route}`);
}

/**
 * Per-client rate limits of the API, counted in Redis by @fastify/rate-limit (with CoalescingRedisStore:
 * one INCRBY + PEXPIRE script per limit and batch of a client's concurrent requests) under
 * `<REDIS_PREFIX>:rate-limit:`, so every API process shares them. Counted in preParsing, after the
 * access hook (onRequest) has named the client and before a body is read. Every response under /api/ carries RateLimit-Limit, -Remaining
 * and -Reset of the limit closest to running out; over a limit it is 429 rate_limited with
 * Retry-After. While Redis does not answer, requests pass uncounted (logged once per outage).
 */
export async function installRateLimits(fastify: FastifyInstance, config: AppConfig): Promise<void> {
  const { requests, submissions, windowMs } = config.rateLimits;
  if (requests === 0 && submissions === 0) {
    return;
  }
  const logger = new Logger('RateLimits');
  const redis = await connect(config.redis.url, logger);
  const stores: CoalescingRedisStore[] = [];
  fastify.addHook('onClose', () => {
    // The last requests answered early are counted too: QUIT goes after their counts.
    stores.forEach((store) => store.sendDelayed());
    return closeGracefully(
      () => redis.quit(),
      () => redis.disconnect(),
    );
  });
  const limit = async (name: Limit['name'], max: number): Promise<Limit | undefined> =>
    max === 0
      ? undefined
      : { name, check: await registerLimit(fastify, redis, stores, `${config.redis.prefix}:rate-limit:${name}:`, max, windowMs) };
  const requestsLimit = await limit('requests', requests);
  const submissionsLimit = await limit('submissions', submissions);
  const availability = new Availability(logger);

  fastify.addHook('preParsing', async (request, reply) => {
    if (!isRateLimited(routedPathOf(request))) {
      return;
    }
    const limits = [requestsLimit, isSubmission(request.method, request.routeOptions.url) ? submissionsLimit : undefined].filter(
      (candidate): candidate is Limit => candidate !== undefined,
    );
    if (limits.length === 0) {
      return;
    }
    let counts: { limit: Limit; count: Count }[];
    try {
      counts = await Promise.all(limits.map(async (limit) => ({ limit, count: await countRequest(limit, request) })));
    } catch (error) {
      availability.failed(error);
      return;
    }
    availability.answered();
    const exceeded = counts.filter(({ count }) => count.isExceeded);
    const shown =
      exceeded.length > 0
        ? exceeded.reduce((longest, candidate) => (candidate.count.ttl > longest.count.ttl ? candidate : longest))
        : counts.reduce((tightest, candidate) => (candidate.count.remaining < tightest.count.remaining ? candidate : tightest));
    reply
      .header('ratelimit-limit', shown.count.max)
      .header('ratelimit-remaining', shown.count.remaining)
      .header('ratelimit-reset', shown.count.ttlInSeconds);
    if (exceeded.length === 0) {
      return;
    }
    reply.header('retry-after', shown.count.ttlInSeconds);
    if (!request.raw.complete) {
      // The body (an upload) is still arriving and will not be read: end the connection after the answer instead of draining it.
      reply.header('connection', 'close');
    }
    throw new RateLimitedError(shown.limit.name, shown.count.max, windowMs, shown.count.ttlInSeconds);
  });
}

/**
 * A connection of the limiter's own: without an offline queue and with a short command timeout, a
 * Redis that is down or hung fails the count at once, and the request goes on uncounted.
 */
async function connect(url: string, logger: Logger): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
  });
  // Connection errors surface as failed counts, which Availability logs once per outage.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    // It keeps reconnecting on its own; until then requests pass uncounted.
    logger.warn(`Rate limits are not applied until Redis answers: ${messageOf(error)}`);
  }
  return redis;
}

/**
 * One limit is one registration of the plugin, in a scope of its own: the plugin counts a request
 * once per registration, and each registration keeps its counters under its own key prefix.
 */
async function registerLimit(
  fastify: FastifyInstance,
  redis: Redis,
  stores: CoalescingRedisStore[],
  nameSpace: string,
  max: number,
  timeWindow: number,
): Promise<Check> {
  let check: Check | undefined;
  await fastify.register(async (scope) => {
    await scope.register(fastifyRateLimit, {
      global: false,
      store: CoalescingRedisStore.on(redis, nameSpace, stores),
      max,
      timeWindow,
      keyGenerator: clientKeyOf,
      skipOnError: false,
    });
    check = scope.createRateLimit();
  });
  if (!check) {
    throw new Error(`@fastify/rate-limit did not register ${nameSpace}`);
  }
  return check;
}

async function countRequest(limit: Limit, request: FastifyRequest): Promise<Count> {
  // No allow list is configured, so every answer is a count.
  return (await limit.check(request)) as Count;
}

/** Logs when counting starts failing (requests then pass uncounted) and when it works again: once each, not per request. */
class Availability {
  private failing = false;

  constructor(private readonly logger: Logger) {}

  failed(error: unknown): void {
    if (!this.failing) {
      this.failing = true;
      this.logger.warn(`Rate limits are not applied while Redis does not answer (${messageOf(error)}): requests pass uncounted`);
    }
  }

  answered(): void {
    if (this.failing) {
      this.failing = false;
      this.logger.log('Rate limits apply again: Redis answers');
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
