import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { ScratchRedis } from './support/scratch-redis';
import { freePort } from './support/service-process';
import { TestApp, startTestApp } from './support/test-app';
import { waitFor } from './support/wait-for';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startLocalS3 } = require('../scripts/local-s3') as {
  startLocalS3: (options: {
    directory: string;
    port?: number;
  }) => Promise<{ endpoint: string; env: Record<string, string>; stop(): Promise<void> }>;
};

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
const ERROR_SHAPE_KEYS = ['code', 'details', 'error', 'message', 'statusCode'];

/** What a health endpoint answers when it is up (what these tests read of it). */
interface HealthBody {
  status: string;
  info?: Record<string, unknown>;
  error?: Record<string, unknown>;
  details?: Record<string, unknown>;
}

/** GET /: the service's links. */
interface ServiceInfo {
  docs: string;
  ui: string;
  openapi: string;
  health: string;
}

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: string;
  details?: { status?: string; info?: Record<string, unknown>; error?: Record<string, unknown>; details?: Record<string, unknown> };
}

/** Polls /health/ready until it answers `status`, and returns that answer. */
async function readinessBecomes(baseUrl: string, status: number, what: string) {
  return waitFor(
    async () => {
      const response = await request(baseUrl).get('/health/ready');
      return response.status === status && response;
    },
    { timeoutMs: 30_000, intervalMs: 200, what },
  );
}

function expectNotReadyNaming(body: ErrorBody, dependency: string, stillUp: string[]): void {
  expect(Object.keys(body).sort()).toEqual(ERROR_SHAPE_KEYS);
  expect(body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', code: 'not_ready' });
  expect(body.message).toContain(dependency);
  expect(Object.keys(body.details?.error ?? {})).toEqual([dependency]);
  expect(body.details?.error?.[dependency]).toMatchObject({ status: 'down' });
  for (const up of stillUp) {
    expect(body.details?.info?.[up]).toEqual({ status: 'up' });
  }
}

describe('health probes', () => {
  describe('with every dependency up', () => {
    let service: TestApp;

    beforeAll(async () => {
      service = await startTestApp();
    });

    afterAll(async () => {
      await service.close();
    });

    it.each(['/health', '/health/ready'])('%s reports PostgreSQL, Redis and S3 up', async (path) => {
      const response = await request(service.baseUrl).get(path).expect(200);
      expect(response.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' }, redis: { status: 'up' }, s3: { status: 'up' } },
        error: {},
      });
      expect(Object.keys((response.body as HealthBody).details!).sort()).toEqual(['database', 'redis', 's3']);
    });

    it('/health/live answers without checking any dependency', async () => {
      const response = await request(service.baseUrl).get('/health/live').expect(200);
      expect(response.body).toMatchObject({ status: 'ok' });
      expect((response.body as HealthBody).info ?? {}).toEqual({});
      expect((response.body as HealthBody).details ?? {}).toEqual({});
    });
  });

  it('is not ready while Redis is down, stays live, and is ready again when Redis is back', async () => {
    const redis = new ScratchRedis(await freePort());
    await redis.start();
    let service: TestApp | undefined;
    try {
      service = await startTestApp({ APP_ROLE: 'api', REDIS_URL: redis.url });
      const ready = await request(service.baseUrl).get('/health/ready').expect(200);
      expect((ready.body as HealthBody).info!.redis).toEqual({ status: 'up' });

      await redis.stop();
      const notReady = await readinessBecomes(service.baseUrl, 503, '/health/ready to report 503 with Redis down');
      expectNotReadyNaming(notReady.body as ErrorBody, 'redis', ['database', 's3']);
      const health = await request(service.baseUrl).get('/health').expect(503);
      expect(health.body).toMatchObject({ code: 'not_ready' });
      expect((health.body as ErrorBody).message).toContain('redis');
      const live = await request(service.baseUrl).get('/health/live').expect(200);
      expect(live.body).toMatchObject({ status: 'ok' });

      await redis.start();
      const back = await readinessBecomes(service.baseUrl, 200, '/health/ready to recover once Redis is back');
      expect((back.body as HealthBody).info).toEqual({ database: { status: 'up' }, redis: { status: 'up' }, s3: { status: 'up' } });
    } finally {
      if (!redis.running) {
        await redis.start().catch(() => undefined);
      }
      await service?.close();
      await redis.stop();
    }
  }, 120_000);

  it('is not ready while S3 is down, stays live, and is ready again when S3 is back', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'ops-s3-health-'));
    let s3: Awaited<ReturnType<typeof startLocalS3>> | undefined = await startLocalS3({ directory });
    const port = Number(new URL(s3.endpoint).port);
    let service: TestApp | undefined;
    try {
      service = await startTestApp({ APP_ROLE: 'api', ...s3.env });
      const ready = await request(service.baseUrl).get('/health/ready').expect(200);
      expect((ready.body as HealthBody).info!.s3).toEqual({ status: 'up' });

      await s3.stop();
      s3 = undefined;
      const notReady = await readinessBecomes(service.baseUrl, 503, '/health/ready to report 503 with S3 down');
      expectNotReadyNaming(notReady.body as ErrorBody, 's3', ['database', 'redis']);
      await request(service.baseUrl).get('/health/live').expect(200);

      s3 = await startLocalS3({ directory, port });
      const back = await readinessBecomes(service.baseUrl, 200, '/health/ready to recover once S3 is back');
      expect((back.body as HealthBody).info).toEqual({ database: { status: 'up' }, redis: { status: 'up' }, s3: { status: 'up' } });
    } finally {
      await service?.close();
      await s3?.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  }, 120_000);
});

interface OpenApiOperation {
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { description?: string; content?: Record<string, { schema?: Record<string, unknown> }> }>;
}

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, { type?: string; properties?: Record<string, unknown>; required?: string[] }> };
}

const EXPECTED_OPERATIONS: [string, string][] = [
  ['post', '/api/v1/process'],
  ['post', '/api/v1/process/upload'],
  ['get', '/api/v1/progress/{object_id}'],
  ['get', '/api/v1/progress/{object_id}/stream'],
  ['get', '/api/v1/status'],
  ['get', '/api/v1/objects'],
  ['get', '/api/v1/objects/{object}'],
  ['get', '/api/v1/objects/{object_id}/artifacts'],
  ['post', '/api/v1/objects/{object_id}/cancel'],
  ['post', '/api/v1/objects/{object_id}/retry'],
  ['delete', '/api/v1/objects/{object}'],
  ['get', '/health'],
  ['get', '/health/live'],
  ['get', '/health/ready'],
  ['get', '/'],
];

describe('service info and API documentation', () => {
  let service: TestApp;
  let document: OpenApiDocument;

  beforeAll(async () => {
    service = await startTestApp({ APP_ROLE: 'api' });
    document = (
      await request(service.baseUrl)
        .get('/docs/json')
        .expect(200)
        .expect('content-type', /application\/json/)
    ).body as OpenApiDocument;
  });

  afterAll(async () => {
    await service.close();
  });

  it('GET / names the service and its version, links to the docs, health, API and web page, and says whether the API wants a key', async () => {
    const response = await request(service.baseUrl).get('/').expect(200);
    expect(response.body).toEqual({
      service: 'object-processing-service',
      version: PACKAGE_VERSION,
      docs: '/docs',
      openapi: '/docs/json',
      health: '/health',
      api: '/api/v1',
      ui: '/ui',
      // The test environment turns access control off (test/global-setup.ts).
      authentication: 'none',
    });
    const links = response.body as ServiceInfo;
    await request(service.baseUrl).get(links.docs).expect(200);
    await request(service.baseUrl).get(links.ui).expect(200);
    await request(service.baseUrl).get(links.openapi).expect(200);
    await request(service.baseUrl).get(links.health).expect(200);
  });

  it('GET /docs serves the Swagger UI', async () => {
    const response = await request(service.baseUrl)
      .get('/docs')
      .expect(200)
      .expect('content-type', /text\/html/);
    expect(response.text).toMatch(/swagger-ui/i);
  });

  it('the OpenAPI document describes every endpoint', () => {
    expect(document.openapi).toMatch(/^3\./);
    expect(document.info.version).toBe(PACKAGE_VERSION);
    const documented = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path}`),
    );
    for (const [method, path] of EXPECTED_OPERATIONS) {
      expect(documented).toContain(`${method} ${path}`);
    }
  });

  it('documents ErrorResponse as the one error shape', () => {
    const errorResponse = document.components.schemas.ErrorResponse;
    expect(errorResponse).toBeDefined();
    expect(Object.keys(errorResponse!.properties ?? {})).toEqual(expect.arrayContaining(['statusCode', 'error', 'message', 'code']));
    expect(errorResponse!.required).toEqual(expect.arrayContaining(['statusCode', 'error', 'message', 'code']));
  });

  it('gives every /api/v1 operation a success response with a schema and error responses (4xx for every operation that takes input) in the ErrorResponse shape', () => {
    const apiOperations = EXPECTED_OPERATIONS.filter(([, path]) => path.startsWith('/api/v1'));
    for (const [method, path] of apiOperations) {
      const operation = document.paths[path]![method];
      const where = `${method.toUpperCase()} ${path}`;
      // One success with a body at most; a 204 may stand beside it (the stream: nothing left to send).
      const success = Object.entries(operation!.responses).filter(([status]) => /^2\d\d$/.test(status));
      const withBody = success.filter(([status]) => status !== '204');
      expect({ where, successes: success.length > 0, withBody: withBody.length <= 1 }).toEqual({ where, successes: true, withBody: true });
      for (const [status, response] of success) {
        if (status === '204') {
          // No Content: the success response has, by definition, no body and so no schema.
          expect({ where, content: response.content }).toEqual({ where, content: undefined });
          continue;
        }
        const schemas = Object.values(response.content ?? {}).map((media) => media.schema);
        expect({ where, hasSchema: schemas.length > 0 && schemas.every(Boolean) }).toEqual({ where, hasSchema: true });
        for (const schema of schemas) {
          expectResolvable(document, schema!, where);
        }
      }

      // An operation without any input (GET /api/v1/status) has no 4xx to document; it must still document its errors.
      const takesInput = (operation!.parameters ?? []).length > 0 || operation!.requestBody !== undefined;
      const errors = Object.keys(operation!.responses).filter((code) => (takesInput ? /^4\d\d$/ : /^[45]\d\d$/).test(code));
      expect({ where, documentsErrors: errors.length > 0 }).toEqual({ where, documentsErrors: true });
      for (const [code, response] of Object.entries(operation!.responses).filter(([code]) => /^[45]\d\d$/.test(code))) {
        expect({ where, code, schema: response.content?.['application/json']?.schema }).toEqual({
          where,
          code,
          schema: { $ref: '#/components/schemas/ErrorResponse' },
        });
      }
    }
  });

  it('the error media type documented for the event stream is the one the server sends', async () => {
    const documented = document.paths['/api/v1/progress/{object_id}/stream']!.get!.responses['404']!.content ?? {};
    const response = await request(service.baseUrl)
      .get('/api/v1/progress/00000000-0000-4000-8000-000000000000/stream')
      .set('accept', 'text/event-stream')
      .expect(404);
    const mediaType = String(response.headers['content-type']).split(';')[0];
    expect(Object.keys(documented)).toEqual([mediaType]);
    expect(Object.keys(response.body as ErrorBody).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
    expect(response.body).toMatchObject({ statusCode: 404, code: 'object_not_found' });
  });
});

/** Every $ref in `schema` names a schema the document defines. */
function expectResolvable(document: OpenApiDocument, schema: Record<string, unknown>, where: string): void {
  const refs = JSON.stringify(schema).match(/#\/components\/schemas\/[A-Za-z0-9_.-]+/g) ?? [];
  for (const ref of refs) {
    const name = ref.slice('#/components/schemas/'.length);
    expect({ where, ref, defined: name in document.components.schemas }).toEqual({ where, ref, defined: true });
  }
}
