import { Redis } from 'ioredis';
import { IncomingMessage, request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { closeDatabase } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { ScratchRedis } from './support/scratch-redis';
import { freePort } from './support/service-process';
import { TestApp, startTestApp, uniqueIdentifier, uniquePrefix } from './support/test-app';
import { waitFor } from './support/wait-for';
import type { components } from './support/api-types';

const RATE_LIMIT_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

/** Paths that are never counted, with what they answer. */
const UNLIMITED = ['/health', '/health/live', '/health/ready', '/metrics', '/docs/json', '/docs', '/ui', '/'];

function counted(response: request.Response): { limit: number; remaining: number; reset: number } {
  return {
    limit: Number(response.headers['ratelimit-limit']),
    remaining: Number(response.headers['ratelimit-remaining']),
    reset: Number(response.headers['ratelimit-reset']),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function submission(label: string) {
  return { identifier: uniqueIdentifier(label), operations: ['validate'] };
}

describe('rate limits', () => {
  afterAll(async () => {
    await closeDatabase();
  });

  describe('the requests limit', () => {
    let service: TestApp;
    const api = () => request(service.baseUrl);

    beforeAll(async () => {
      // A short window, so that the test can wait for its end.
      service = await startTestApp({ APP_ROLE: 'api', RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_WINDOW_MS: '5000' });
    });

    afterAll(async () => {
      await service?.close();
    });

    it('counts every /api/ request of a client, answers 429 rate_limited with Retry-After over it, and answers again once Retry-After has passed', async () => {
      const answers = [];
      for (let n = 0; n < 3; n++) {
        answers.push(await api().get('/api/v1/objects').expect(200));
      }
      expect(answers.map((answer) => counted(answer).remaining)).toEqual([2, 1, 0]);
      for (const answer of answers) {
        expect(counted(answer).limit).toBe(3);
        expect(counted(answer).reset).toBeGreaterThanOrEqual(1);
        expect(counted(answer).reset).toBeLessThanOrEqual(5);
      }

      const refused = await api().get('/api/v1/objects').expect(429);
      expectErrorShape(refused.body as Record<string, unknown>, 429, 'rate_limited');
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(5);
      expect(refused.body).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        code: 'rate_limited',
        message: `Too many requests: this client may make 3 per 5 s; retry in ${retryAfter} s`,
        details: { limit: 'requests', max: 3, window_ms: 5000, retry_after_seconds: retryAfter },
      });
      expect(counted(refused)).toEqual({ limit: 3, remaining: 0, reset: retryAfter });
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      // Any route under /api/ is refused for this client now, an unknown one included.
      await api().post('/api/v1/process').send(submission('over-limit')).expect(429);
      expectErrorShape((await api().get('/api/v1/no-such-route').expect(429)).body as Record<string, unknown>, 429, 'rate_limited');

      await sleep(retryAfter * 1000);
      const again = await api().get('/api/v1/objects').expect(200);
      expect(counted(again)).toMatchObject({ limit: 3, remaining: 2 });
    });
  });

  describe('with the limit used up', () => {
    let service: TestApp;
    const api = () => request(service.baseUrl);

    beforeAll(async () => {
      service = await startTestApp({ APP_ROLE: 'api', RATE_LIMIT_REQUESTS: '1', RATE_LIMIT_WINDOW_MS: '600000' });
      await api().get('/api/v1/status').expect(200);
      await api().get('/api/v1/status').expect(429);
    });

    afterAll(async () => {
      await service?.close();
    });

    it('health probes, /metrics, the docs, /ui and / are answered, never counted', async () => {
      for (const path of UNLIMITED) {
        for (let n = 0; n < 3; n++) {
          const response = await api().get(path);
          expect({ path, status: response.status }).toEqual({ path, status: 200 });
          expect({ path, headers: RATE_LIMIT_HEADERS.filter((name) => name in response.headers) }).toEqual({ path, headers: [] });
        }
      }
      await api().get('/api/v1/status').expect(429);
    });

    it('refuses an upload before reading its body, and closes the connection instead of draining it', async () => {
      const { hostname, port } = new URL(service.baseUrl);
      const outgoing = httpRequest({
        host: hostname,
        port,
        method: 'POST',
        path: '/api/v1/process/upload',
        headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': 64 * 1024 * 1024 },
      });
      try {
        const answered = new Promise<IncomingMessage>((resolve, reject) => {
          outgoing.once('response', resolve);
          outgoing.once('error', reject);
        });
        // The first 64 KiB of 64 MiB: the answer comes without the rest.
        outgoing.write(Buffer.alloc(64 * 1024, 'x'));
        const response = await answered;
        const chunks: Buffer[] = [];
        const closed = new Promise((resolve) => response.socket.once('close', resolve));
        for await (const chunk of response) {
          chunks.push(chunk as Buffer);
        }
        expect(response.statusCode).toBe(429);
        expect(response.headers.connection).toBe('close');
        expectErrorShape(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>, 429, 'rate_limited');
        await closed;
      } finally {
        outgoing.destroy();
      }
    });

    it('keeps its counts in Redis under the REDIS_PREFIX of the deployment, per client', async () => {
      const redis = new Redis(service.config.redis.url);
      try {
        await api().post('/api/v1/process').send(submission('counted')).expect(429);
        const prefix = service.config.redis.prefix;
        const keys = (await redis.keys(`${prefix}:rate-limit:*`)).sort();
        expect(keys).toEqual([`${prefix}:rate-limit:requests:ip:127.0.0.1`, `${prefix}:rate-limit:submissions:ip:127.0.0.1`]);
        expect(Number(await redis.get(keys[0]!))).toBeGreaterThan(Number(await redis.get(keys[1]!)));
        expect(Number(await redis.pttl(keys[0]!))).toBeGreaterThan(0);
      } finally {
        await redis.quit();
      }
    });
  });

  describe('as the API stops', () => {
    it('counts the last requests it answered before their count was sent', async () => {
      const service = await startTestApp({ APP_ROLE: 'api', RATE_LIMIT_REQUESTS: '1000', RATE_LIMIT_WINDOW_MS: '60000' });
      try {
        // The first request waits for its count; the next ones, far below the limit, are answered before theirs is sent.
        for (let n = 0; n < 4; n++) {
          expect(counted(await request(service.baseUrl).get('/api/v1/objects').expect(200)).remaining).toBe(999 - n);
        }
      } finally {
        await service.close();
      }
      const redis = new Redis(service.config.redis.url);
      try {
        expect(Number(await redis.get(`${service.config.redis.prefix}:rate-limit:requests:ip:127.0.0.1`))).toBe(4);
      } finally {
        await redis.quit();
      }
    });
  });

  describe('the submissions limit', () => {
    let service: TestApp;
    const api = () => request(service.baseUrl);

    beforeAll(async () => {
      service = await startTestApp({
        APP_ROLE: 'api',
        RATE_LIMIT_REQUESTS: '7',
        RATE_LIMIT_SUBMISSIONS: '2',
        RATE_LIMIT_WINDOW_MS: '60000',
      });
    });

    afterAll(async () => {
      await service?.close();
    });

    it('counts POST /api/v1/process and /upload together, in addition to the requests limit, showing the limit closer to running out', async () => {
      const first = await api().post('/api/v1/process').send(submission('first')).expect(202);
      expect(counted(first)).toMatchObject({ limit: 2, remaining: 1 });
      const second = await api()
        .post('/api/v1/process/upload')
        .field('identifier', uniqueIdentifier('second'))
        .field('operations', '["validate"]')
        .attach('file', Buffer.from('{"a": 1}'), { filename: 'a.json', contentType: 'application/json' })
        .expect(202);
      expect(counted(second)).toMatchObject({ limit: 2, remaining: 0 });

      const refused = await api().post('/api/v1/process').send(submission('third')).expect(429);
      const refusal = refused.body as components['schemas']['ErrorResponse'];
      expectErrorShape(refusal, 429, 'rate_limited');
      expect(refusal.details).toEqual({
        limit: 'submissions',
        max: 2,
        window_ms: 60000,
        retry_after_seconds: Number(refused.headers['retry-after']),
      });
      expect(refusal.message).toMatch(/^Too many submissions: this client may make 2 per 60 s; retry in \d+ s$/);
      expect(counted(refused)).toMatchObject({ limit: 2, remaining: 0 });
      const refusedUpload = await api()
        .post('/api/v1/process/upload')
        .field('identifier', uniqueIdentifier('fourth'))
        .field('operations', '["validate"]')
        .attach('file', Buffer.from('{"a": 1}'), { filename: 'a.json', contentType: 'application/json' })
        .expect(429);
      expect((refusedUpload.body as components['schemas']['ErrorResponse']).details).toMatchObject({ limit: 'submissions' });

      // Reads go on under the requests limit, which counted all four submissions too.
      const read = await api().get('/api/v1/status').expect(200);
      expect(counted(read)).toMatchObject({ limit: 7, remaining: 2 });
      await api().get('/api/v1/status').expect(200);
      await api().get('/api/v1/status').expect(200);
      const overRequests = await api().get('/api/v1/status').expect(429);
      expect((overRequests.body as components['schemas']['ErrorResponse']).details).toMatchObject({ limit: 'requests', max: 7 });
    });
  });

  it('is shared by API processes on the same Redis prefix: requests split across two of them count together', async () => {
    const shared = { APP_ROLE: 'api', REDIS_PREFIX: uniquePrefix(), RATE_LIMIT_REQUESTS: '6', RATE_LIMIT_WINDOW_MS: '60000' };
    const one = await startTestApp(shared);
    const other = await startTestApp(shared);
    const redis = new Redis(process.env.REDIS_URL!);
    const countedInRedis = async () => {
      const [key] = await redis.keys(`${shared.REDIS_PREFIX}:rate-limit:requests:*`);
      return key === undefined ? 0 : Number(await redis.get(key));
    };
    try {
      const remaining = [];
      for (const [index, service] of [one, other, one, other, one, other].entries()) {
        remaining.push(counted(await request(service.baseUrl).get('/api/v1/status').expect(200)).remaining);
        // A request answered before its count is counted just after: each process then knows what it counted last.
        await waitFor(async () => (await countedInRedis()) === index + 1, { timeoutMs: 5000, what: `request ${index + 1} counted` });
      }
      // Far below the limit, a process answers from the count it last had from Redis, which may miss the other's latest
      // requests (never the other way); once it knows the client at half the limit, every number is exact.
      expect(remaining).toEqual([5, 4, 4, 3, 1, 0]);
      expectErrorShape((await request(one.baseUrl).get('/api/v1/status').expect(429)).body as Record<string, unknown>, 429, 'rate_limited');
      expectErrorShape(
        (await request(other.baseUrl).get('/api/v1/status').expect(429)).body as Record<string, unknown>,
        429,
        'rate_limited',
      );
    } finally {
      await redis.quit();
      await other.close();
      await one.close();
    }
  });

  it('lets requests through uncounted while Redis is down, and counts again once it is back', async () => {
    const redis = new ScratchRedis(await freePort());
    await redis.start();
    let service: TestApp | undefined;
    try {
      service = await startTestApp({ APP_ROLE: 'api', REDIS_URL: redis.url, RATE_LIMIT_REQUESTS: '2', RATE_LIMIT_WINDOW_MS: '60000' });
      const api = () => request(service!.baseUrl);
      await api().get('/api/v1/objects').expect(200);
      await api().get('/api/v1/objects').expect(200);
      await api().get('/api/v1/objects').expect(429);

      await redis.stop();
      for (let n = 0; n < 3; n++) {
        const uncounted = await api().get('/api/v1/objects').expect(200);
        expect(RATE_LIMIT_HEADERS.filter((name) => name in uncounted.headers)).toEqual([]);
      }

      // Started again empty: the counts begin anew as soon as the limiter has reconnected.
      await redis.start();
      await waitFor(async () => counted(await api().get('/api/v1/objects').expect(200)).limit === 2, {
        what: 'the limiter to count again',
        intervalMs: 200,
      });
      await api().get('/api/v1/objects').expect(200);
      await api().get('/api/v1/objects').expect(429);
    } finally {
      if (!redis.running) {
        await redis.start();
      }
      await service?.close();
      await redis.stop();
    }
  });

  it('is documented on every operation under /api/ of the committed contract, and on no other: 429 with Retry-After and RateLimit-*', () => {
    const contract = JSON.parse(readFileSync(join(__dirname, '..', 'openapi', 'openapi.json'), 'utf8')) as {
      paths: Record<
        string,
        Record<
          string,
          {
            responses: Record<
              string,
              { headers?: Record<string, unknown>; content?: Record<string, { examples?: Record<string, { value: { code: string } }> }> }
            >;
          }
        >
      >;
      components: { headers: Record<string, unknown> };
    };
    const operations = Object.entries(contract.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ where: `${method.toUpperCase()} ${path}`, path, operation })),
    );
    expect(operations.filter(({ path }) => path.startsWith('/api/')).length).toBeGreaterThanOrEqual(11);
    for (const { where, path, operation } of operations) {
      const tooMany = operation.responses['429'];
      if (!path.startsWith('/api/')) {
        expect({ where, documents429: tooMany !== undefined }).toEqual({ where, documents429: false });
        continue;
      }
      expect({ where, headers: Object.keys(tooMany?.headers ?? {}).sort() }).toEqual({
        where,
        headers: ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'],
      });
      const examples = tooMany!.content!['application/json']!.examples!;
      const rateLimited = Object.keys(examples).filter((name) => examples[name]!.value.code === 'rate_limited');
      expect({ where, rateLimited }).toEqual({
        where,
        rateLimited: where.startsWith('POST /api/v1/process') ? ['requests', 'submissions'] : ['requests'],
      });
    }
    for (const name of ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After']) {
      expect(contract.components.headers[name]).toMatchObject({ schema: { type: 'integer' } });
    }
  });
});
