import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApiKeysService } from '../src/access/api-keys.service';
import type { Scope } from '../src/access/principal';
import { RedisService } from '../src/redis/redis.service';
import { cuttableProxy } from './support/cuttable-proxy';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { openSse } from './support/sse';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const contract = require('../openapi/openapi.json') as { paths: Record<string, Record<string, { security?: unknown[] }>> };

const run = promisify(execFile);
const NODE = join(__dirname, '..', 'node_modules', '.bin', 'node');
const KEYS_CLI = join(__dirname, '..', 'dist', 'src', 'keys-cli.js');

interface Call {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** The scope each secured operation of the contract needs: the table a reviewer checks the decorators against. */
const NEEDED_SCOPE: Record<string, Scope> = {
  'POST /api/v1/process': 'write',
  'POST /api/v1/process/upload': 'write',
  'POST /api/v1/process/batch': 'write',
  'POST /api/v1/objects/retry': 'write',
  'GET /api/v1/progress/{object_id}': 'read',
  'GET /api/v1/progress/{object_id}/stream': 'read',
  'POST /api/v1/progress/{object_id}/stream-token': 'read',
  'GET /api/v1/status': 'read',
  'GET /api/v1/objects': 'read',
  'GET /api/v1/objects/{object}': 'read',
  'DELETE /api/v1/objects/{object}': 'write',
  'GET /api/v1/objects/{object_id}/artifacts': 'read',
  'POST /api/v1/objects/{object_id}/cancel': 'write',
  'POST /api/v1/objects/{object_id}/retry': 'write',
  'POST /api/v1/keys': 'admin',
  'GET /api/v1/keys': 'admin',
  'DELETE /api/v1/keys/{key_id}': 'admin',
  'POST /api/v1/webhooks': 'write',
  'GET /api/v1/webhooks': 'read',
  'DELETE /api/v1/webhooks/{webhook_id}': 'write',
  'GET /api/v1/webhooks/{webhook_id}/deliveries': 'read',
  'GET /api/v1/objects/{object_id}/webhook-deliveries': 'read',
  // In this order: the resume undoes the pause.
  'POST /api/v1/queue/pause': 'admin',
  'POST /api/v1/queue/resume': 'admin',
};

const securedOperations = Object.entries(contract.paths).flatMap(([path, operations]) =>
  Object.entries(operations)
    .filter(([, operation]) => (operation.security ?? []).length > 0)
    .map(([method]) => `${method.toUpperCase()} ${path}`),
);

describe('access control (AUTH_REQUIRED=true)', () => {
  let service: TestApp;
  const alpha = `alpha-${randomUUID().slice(0, 8)}`;
  const beta = `beta-${randomUUID().slice(0, 8)}`;
  const keys: Record<'admin' | 'alphaWriter' | 'alphaReader' | 'betaWriter' | 'revoked', string> = {} as never;
  let alphaObject: { id: string; identifier: string };

  async function call({
    method,
    path,
    headers = {},
    body,
  }: Call): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
    const response = await fetch(`${service.baseUrl}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text && response.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  }

  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  async function submitAs(key: string, identifier = uniqueIdentifier('access'), extraHeaders: Record<string, string> = {}) {
    return call({
      method: 'POST',
      path: '/api/v1/process',
      headers: { ...as(key), ...extraHeaders },
      body: { identifier, operations: ['validate'], payload: { n: 1 } },
    });
  }

  /** A request that reaches the route's handler: placeholders filled with alpha's object, or a fresh one of alpha for cancel and delete. */
  async function requestFor(operation: string): Promise<Call> {
    const [method, template] = operation.split(' ') as [string, string];
    const target =
      ['DELETE', 'POST'].includes(method) && /\{object(_id)?\}(\/cancel)?$/.test(template)
        ? ((await submitAs(keys.alphaWriter)).body.id as string)
        : alphaObject.id;
    const path = template
      .replace('{object_id}', target)
      .replace('{object}', target)
      .replace('{key_id}', randomUUID())
      .replace('{webhook_id}', randomUUID());
    const body =
      method === 'POST' && path === '/api/v1/process'
        ? { identifier: uniqueIdentifier('scope'), operations: ['validate'] }
        : path === '/api/v1/process/batch'
          ? { objects: [{ identifier: uniqueIdentifier('scope'), operations: ['validate'] }] }
          : path === '/api/v1/objects/retry'
            ? { limit: 1 }
            : path === '/api/v1/keys' && method === 'POST'
              ? { name: 'scoped', team: alpha, scopes: ['read'] }
              : path === '/api/v1/webhooks' && method === 'POST'
                ? { url: 'http://127.0.0.1:9/refused-here' }
                : undefined;
    return { method, path, body };
  }

  beforeAll(async () => {
    service = await startTestApp({ AUTH_REQUIRED: 'true' });
    const apiKeys = service.app.get(ApiKeysService);
    const create = async (name: string, team: string, scopes: Scope[]) => (await apiKeys.create({ name, team, scopes })).secret;
    keys.admin = await create('admin', 'ops', ['admin']);
    keys.alphaWriter = await create('alpha writer', alpha, ['read', 'write']);
    keys.alphaReader = await create('alpha reader', alpha, ['read']);
    keys.betaWriter = await create('beta writer', beta, ['read', 'write']);
    const revoked = await apiKeys.create({ name: 'revoked', team: alpha, scopes: ['read', 'write'] });
    await apiKeys.revoke(revoked.key.id);
    keys.revoked = revoked.secret;
    const submitted = await submitAs(keys.alphaWriter);
    expect(submitted.status).toBe(202);
    alphaObject = { id: submitted.body.id as string, identifier: submitted.body.identifier as string };
  });

  afterAll(async () => {
    await service?.close();
    await closeDatabase();
  });

  it('the contract marks exactly the API routes as secured, and this test knows the scope of each', () => {
    expect(securedOperations.sort()).toEqual(Object.keys(NEEDED_SCOPE).sort());
  });

  describe.each(Object.keys(NEEDED_SCOPE))('%s', (operation) => {
    it('answers 401 with a Bearer challenge without a key, with a malformed one, an unknown one and a revoked one', async () => {
      const unknownKey = `opsk_${randomUUID().replaceAll('-', '')}_${'A'.repeat(43)}`;
      const attempts: [string, Record<string, string>][] = [
        ['no key', {}],
        ['basic auth', { authorization: 'Basic dXNlcjpwYXNz' }],
        ['not a key', as('letmein')],
        ['unknown key', as(unknownKey)],
        ['revoked key', as(keys.revoked)],
        ['wrong secret', as(`${keys.alphaWriter.slice(0, -43)}${'B'.repeat(43)}`)],
      ];
      for (const [label, headers] of attempts) {
        const response = await call({ ...(await requestFor(operation)), headers });
        expect({ label, status: response.status }).toEqual({ label, status: 401 });
        expectErrorShape(response.body, 401, 'unauthorized');
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
      }
    });

    it('answers 403 naming the scope to a key without it, and lets a key with it through', async () => {
      const needed = NEEDED_SCOPE[operation];
      const lacking = needed === 'read' ? undefined : keys.alphaReader;
      if (lacking) {
        const refused = await call({ ...(await requestFor(operation)), headers: as(lacking) });
        expect(refused.status).toBe(403);
        expectErrorShape(refused.body, 403, 'insufficient_scope');
        expect(refused.body.details).toEqual({ needed, held: ['read'] });
      }
      const holder = needed === 'admin' ? keys.admin : needed === 'read' ? keys.alphaReader : keys.alphaWriter;
      const request = await requestFor(operation);
      if (request.path.endsWith('/stream')) {
        const stream = await openSse(`${service.baseUrl}${request.path}`, as(holder));
        stream.close();
        expect(stream.status).toBe(200);
        return;
      }
      const allowed = await call({ ...request, headers: as(holder) });
      expect([401, 403]).not.toContain(allowed.status);
    });
  });

  describe('teams', () => {
    it("hides another team's object as if it did not exist, on every route that names one", async () => {
      const other = as(keys.betaWriter);
      const id = alphaObject.id;
      const attempts: Call[] = [
        { method: 'GET', path: `/api/v1/objects/${id}` },
        { method: 'GET', path: `/api/v1/objects/${alphaObject.identifier}` },
        { method: 'GET', path: `/api/v1/progress/${id}` },
        { method: 'GET', path: `/api/v1/progress/${id}/stream` },
        { method: 'POST', path: `/api/v1/progress/${id}/stream-token` },
        { method: 'GET', path: `/api/v1/objects/${id}/artifacts` },
        { method: 'GET', path: `/api/v1/objects/${id}/webhook-deliveries` },
        { method: 'POST', path: `/api/v1/objects/${id}/cancel` },
        { method: 'POST', path: `/api/v1/objects/${id}/retry` },
        { method: 'DELETE', path: `/api/v1/objects/${id}` },
        { method: 'DELETE', path: `/api/v1/objects/${alphaObject.identifier}` },
      ];
      for (const attempt of attempts) {
        const response = await call({ ...attempt, headers: other });
        expect({ attempt: `${attempt.method} ${attempt.path}`, status: response.status, code: response.body.code }).toEqual({
          attempt: `${attempt.method} ${attempt.path}`,
          status: 404,
          code: 'object_not_found',
        });
      }
      const [row] = await query<{ team: string }>('select team from processing_objects where id = $1', [id]);
      expect(row).toEqual({ team: alpha });
      const own = await call({ method: 'GET', path: `/api/v1/objects/${id}`, headers: as(keys.alphaReader) });
      expect({ status: own.status, team: own.body.team }).toEqual({ status: 200, team: alpha });
    });

    it("lists only the key's own team, counts only its objects in status, and admin keys see every team", async () => {
      const betaObject = await submitAs(keys.betaWriter);
      expect(betaObject.status).toBe(202);
      // Other suites share the database: the admin's page is narrowed to this suite's identifiers.
      const teamsListedTo = async (key: string) => {
        const listed = await call({ method: 'GET', path: '/api/v1/objects?limit=100&identifier_prefix=access-', headers: as(key) });
        expect(listed.status).toBe(200);
        return new Set((listed.body.items as { team: string }[]).map((item) => item.team));
      };
      expect([...(await teamsListedTo(keys.alphaReader))]).toEqual([alpha]);
      expect([...(await teamsListedTo(keys.betaWriter))]).toEqual([beta]);
      const seenByAdmin = await teamsListedTo(keys.admin);
      expect(seenByAdmin.has(alpha) && seenByAdmin.has(beta)).toBe(true);

      const status = await call({ method: 'GET', path: '/api/v1/status', headers: as(keys.betaWriter) });
      const counted = Object.values(status.body.objects_by_state as Record<string, number>).reduce((sum, count) => sum + count, 0);
      expect(counted).toBe(1);
      const adminView = await call({ method: 'GET', path: `/api/v1/objects/${betaObject.body.id as string}`, headers: as(keys.admin) });
      expect({ status: adminView.status, team: adminView.body.team }).toEqual({ status: 200, team: beta });
    });

    it("refuses another team's identifier without telling anything of its object, and keeps Idempotency-Keys apart per team", async () => {
      const taken = await submitAs(keys.betaWriter, alphaObject.identifier);
      expect(taken.status).toBe(409);
      expectErrorShape(taken.body, 409, 'identifier_taken');
      expect(taken.body.details).toBeUndefined();
      expect(JSON.stringify(taken.body)).not.toContain(alphaObject.id);

      const idempotencyKey = randomUUID();
      const first = await submitAs(keys.alphaWriter, uniqueIdentifier('idem-a'), { 'idempotency-key': idempotencyKey });
      const second = await submitAs(keys.betaWriter, uniqueIdentifier('idem-b'), { 'idempotency-key': idempotencyKey });
      expect([first.status, second.status]).toEqual([202, 202]);
      expect(second.body.id).not.toBe(first.body.id);
      const replay = await submitAs(keys.alphaWriter, first.body.identifier as string, { 'idempotency-key': idempotencyKey });
      expect({ status: replay.status, id: replay.body.id }).toEqual({ status: 202, id: first.body.id });
    });

    it("lets a team delete its own object, and an admin key any team's", async () => {
      const own = await submitAs(keys.alphaWriter);
      const other = await submitAs(keys.betaWriter);
      for (const { id, key } of [
        { id: own.body.id as string, key: keys.alphaWriter },
        { id: other.body.id as string, key: keys.admin },
      ]) {
        await waitFor(
          async () => {
            const response = await call({ method: 'DELETE', path: `/api/v1/objects/${id}`, headers: as(key) });
            return response.status === 204;
          },
          { timeoutMs: 30_000, intervalMs: 200, what: `object ${id} to be deletable` },
        );
        expect(await query('select id from processing_objects where id = $1', [id])).toEqual([]);
      }
    });
  });

  describe('the key endpoints', () => {
    it('create a key shown once, list keys without any secret, and revoke one so that it stops working at once', async () => {
      const created = await call({
        method: 'POST',
        path: '/api/v1/keys',
        headers: as(keys.admin),
        body: { name: 'importer', team: alpha, scopes: ['read'] },
      });
      expect(created.status).toBe(201);
      const key = created.body.key as string;
      expect(key).toMatch(/^opsk_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
      expect(created.body).toMatchObject({ name: 'importer', team: alpha, scopes: ['read'], revoked_at: null });

      const [stored] = await query<{ secret_hash: string }>('select secret_hash from api_keys where id = $1', [created.body.id]);
      expect(stored?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
      const rowText = JSON.stringify(await query('select * from api_keys where id = $1', [created.body.id]));
      expect(rowText).not.toContain(key.slice(-43));

      const listed = await call({ method: 'GET', path: '/api/v1/keys', headers: as(keys.admin) });
      const entry = (listed.body.items as Record<string, unknown>[]).find((item) => item.id === created.body.id);
      expect(entry).toEqual({
        id: created.body.id,
        name: 'importer',
        team: alpha,
        scopes: ['read'],
        created_at: expect.any(String) as unknown,
        revoked_at: null,
      });
      expect(JSON.stringify(listed.body)).not.toMatch(/opsk_|secret/);

      expect((await call({ method: 'GET', path: `/api/v1/objects/${alphaObject.id}`, headers: as(key) })).status).toBe(200);
      const revoked = await call({ method: 'DELETE', path: `/api/v1/keys/${created.body.id as string}`, headers: as(keys.admin) });
      expect(revoked.status).toBe(204);
      const refused = await call({ method: 'GET', path: `/api/v1/objects/${alphaObject.id}`, headers: as(key) });
      expect({ status: refused.status, message: refused.body.message }).toEqual({ status: 401, message: 'This API key has been revoked' });
      expect((await call({ method: 'DELETE', path: `/api/v1/keys/${created.body.id as string}`, headers: as(keys.admin) })).status).toBe(
        204,
      );
    });

    it('refuse malformed, oversized and hostile key requests with 400, and an unknown key id with 404', async () => {
      const bodies: unknown[] = [
        {},
        { name: 'x', team: alpha },
        { name: 'x', team: alpha, scopes: [] },
        { name: 'x', team: alpha, scopes: ['root'] },
        { name: 'x', team: 'Upper Case', scopes: ['read'] },
        { name: 'x'.repeat(101), team: alpha, scopes: ['read'] },
        { name: 'x', team: 't'.repeat(101), scopes: ['read'] },
        { name: '<script>', team: alpha, scopes: ['read'] },
        { name: 'x', team: { $ne: null }, scopes: ['read'] },
        { name: 'x', team: alpha, scopes: ['read'], extra: true },
      ];
      for (const body of bodies) {
        const response = await call({ method: 'POST', path: '/api/v1/keys', headers: as(keys.admin), body });
        expect({ body, status: response.status }).toEqual({ body, status: 400 });
        expectErrorShape(response.body, 400);
      }
      expect((await call({ method: 'DELETE', path: '/api/v1/keys/not-a-uuid', headers: as(keys.admin) })).status).toBe(400);
      const unknown = await call({ method: 'DELETE', path: `/api/v1/keys/${randomUUID()}`, headers: as(keys.admin) });
      expect(unknown.status).toBe(404);
      expectErrorShape(unknown.body, 404, 'api_key_not_found');
    });
  });

  describe('stream tokens', () => {
    it('open the progress stream of their object only, without a key in the URL, until they expire', async () => {
      const issued = await call({ method: 'POST', path: `/api/v1/progress/${alphaObject.id}/stream-token`, headers: as(keys.alphaReader) });
      expect(issued.status).toBe(201);
      const token = issued.body.token as string;
      expect(token).toMatch(/^opst_/);
      expect(issued.body.stream_url).toBe(`/api/v1/progress/${alphaObject.id}/stream?access_token=${token}`);
      expect(issued.body.stream_url).not.toContain(keys.alphaReader);

      const stream = await openSse(`${service.baseUrl}${issued.body.stream_url as string}`);
      expect(stream.status).toBe(200);
      await waitFor(() => stream.events.some((event) => event.event === 'progress'), {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: 'a progress event',
      });
      stream.close();

      const elsewhere: Call[] = [
        { method: 'GET', path: `/api/v1/objects/${alphaObject.id}?access_token=${token}` },
        { method: 'GET', path: `/api/v1/progress/${alphaObject.id}?access_token=${token}` },
        { method: 'GET', path: `/api/v1/progress/${randomUUID()}/stream?access_token=${token}` },
        { method: 'POST', path: `/api/v1/objects/${alphaObject.id}/cancel?access_token=${token}` },
      ];
      for (const attempt of elsewhere) {
        const response = await call(attempt);
        expect({ path: attempt.path, status: response.status }).toEqual({ path: attempt.path, status: 401 });
      }
      const bogus = await call({ method: 'GET', path: `/api/v1/progress/${alphaObject.id}/stream?access_token=opst_${'x'.repeat(43)}` });
      expect({ status: bogus.status, message: bogus.body.message }).toEqual({
        status: 401,
        message: 'The stream token is unknown or has expired; ask for a new one',
      });

      // Expiry is Redis's: a token whose entry is gone is refused like one that never was.
      const redis = service.app.get(RedisService);
      const [entry] = await redis.client.keys(redis.key('stream-token:*'));
      expect(await redis.client.ttl(entry!)).toBeGreaterThan(0);
      await redis.client.del(...(await redis.client.keys(redis.key('stream-token:*'))));
      expect((await call({ method: 'GET', path: issued.body.stream_url as string })).status).toBe(401);
    });

    it("issued to an admin key, open another team's stream; a token stops working when its key is revoked", async () => {
      const adminIssued = await call({ method: 'POST', path: `/api/v1/progress/${alphaObject.id}/stream-token`, headers: as(keys.admin) });
      const adminStream = await openSse(`${service.baseUrl}${adminIssued.body.stream_url as string}`);
      adminStream.close();
      expect(adminStream.status).toBe(200);
      // The id in capitals names the same object.
      const upper = await openSse(
        `${service.baseUrl}/api/v1/progress/${alphaObject.id.toUpperCase()}/stream?access_token=${adminIssued.body.token as string}`,
      );
      upper.close();
      expect(upper.status).toBe(200);

      const apiKeys = service.app.get(ApiKeysService);
      const holder = await apiKeys.create({ name: 'revoked later', team: alpha, scopes: ['read'] });
      const issued = await call({ method: 'POST', path: `/api/v1/progress/${alphaObject.id}/stream-token`, headers: as(holder.secret) });
      await apiKeys.revoke(holder.key.id);
      const refused = await call({ method: 'GET', path: issued.body.stream_url as string });
      expect(refused.status).toBe(401);
    });
  });

  describe('the per-team cap on waiting objects', () => {
    let apiOnly: TestApp;
    const crowded = `crowded-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      // An API without workers: submitted objects stay queued.
      apiOnly = await startTestApp({ AUTH_REQUIRED: 'true', APP_ROLE: 'api', TEAM_MAX_QUEUED_OBJECTS: '2' });
    });

    afterAll(async () => {
      await apiOnly?.close();
    });

    it('answers 429 with Retry-After once the team has the cap waiting, while other teams still submit', async () => {
      const apiKeys = apiOnly.app.get(ApiKeysService);
      const full = (await apiKeys.create({ name: 'crowded', team: crowded, scopes: ['write'] })).secret;
      const submit = (key: string) =>
        fetch(`${apiOnly.baseUrl}/api/v1/process`, {
          method: 'POST',
          headers: { ...as(key), 'content-type': 'application/json' },
          body: JSON.stringify({ identifier: uniqueIdentifier('cap'), operations: ['validate'] }),
        });
      expect((await submit(full)).status).toBe(202);
      expect((await submit(full)).status).toBe(202);
      const refused = await submit(full);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('5');
      expectErrorShape(await refused.json(), 429, 'team_queue_full');
      expect(await query('select count(*)::int as count from processing_objects where team = $1', [crowded])).toEqual([{ count: 2 }]);
      expect((await submit(keys.betaWriter)).status).toBe(202);

      // A failed object queued again counts too: its retry is refused while the team's queue is full.
      const [waiting] = await query<{ id: string }>(`select id from processing_objects where team = $1 limit 1`, [crowded]);
      await query(`update processing_objects set state = 'failed', error_message = 'x' where id = $1`, [waiting!.id]);
      expect((await submit(full)).status).toBe(202);
      const retry = await fetch(`${apiOnly.baseUrl}/api/v1/objects/${waiting!.id}/retry`, { method: 'POST', headers: as(full) });
      expect(retry.status).toBe(429);
      expectErrorShape(await retry.json(), 429, 'team_queue_full');
    });
  });

  describe('rate limits with keys', () => {
    let limited: TestApp;

    beforeAll(async () => {
      limited = await startTestApp({ AUTH_REQUIRED: 'true', APP_ROLE: 'api', RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_WINDOW_MS: '60000' });
    });

    afterAll(async () => {
      await limited?.close();
    });

    it('count each key apart, though every request comes from one address', async () => {
      const statuses = async (key: string, count: number) => {
        const seen: number[] = [];
        for (let i = 0; i < count; i++) {
          seen.push((await fetch(`${limited.baseUrl}/api/v1/objects?limit=1`, { headers: as(key) })).status);
        }
        return seen;
      };
      expect(await statuses(keys.alphaReader, 4)).toEqual([200, 200, 200, 429]);
      expect(await statuses(keys.betaWriter, 3)).toEqual([200, 200, 200]);
    });

    it('count a percent-encoded path to the API like the plain one', async () => {
      const encoded = (await limited.app.get(ApiKeysService).create({ name: 'encoded', team: alpha, scopes: ['read'] })).secret;
      const seen: number[] = [];
      for (let i = 0; i < 4; i++) {
        // The URL keeps %61 as it is; the router decodes it to /api/v1/status.
        seen.push((await fetch(`${limited.baseUrl}/%61pi/v1/status`, { headers: as(encoded) })).status);
      }
      expect(seen).toEqual([200, 200, 200, 429]);
    });
  });

  describe('while PostgreSQL is down', () => {
    it('answers a request with a key 503 dependency_unavailable, not 500, and one without a key 401', async () => {
      const proxy = await cuttableProxy(new URL(process.env.DATABASE_URL!));
      const cut = await startTestApp({ AUTH_REQUIRED: 'true', APP_ROLE: 'api', DATABASE_URL: proxy.url.toString(), API_KEY_CACHE_MS: '0' });
      try {
        const key = (await cut.app.get(ApiKeysService).create({ name: 'outage', team: alpha, scopes: ['read'] })).secret;
        expect((await fetch(`${cut.baseUrl}/api/v1/status`, { headers: as(key) })).status).toBe(200);
        await proxy.cut();
        const refused = await fetch(`${cut.baseUrl}/api/v1/status`, { headers: as(key) });
        expect(refused.status).toBe(503);
        expectErrorShape(await refused.json(), 503, 'dependency_unavailable');
        expect((await fetch(`${cut.baseUrl}/api/v1/status`)).status).toBe(401);
        // Public routes never look a key up: the probe answers whatever key it is sent.
        const unknownKey = `opsk_${randomUUID().replaceAll('-', '')}_${'C'.repeat(43)}`;
        expect((await fetch(`${cut.baseUrl}/health/live`, { headers: as(unknownKey) })).status).toBe(200);
      } finally {
        await cut.close();
      }
    });
  });

  describe('npm run keys', () => {
    const cli = (...args: string[]) => run(NODE, [KEYS_CLI, ...args], { env: { ...service.env } });

    it('creates a key that works, lists it without its secret, and revokes it', async () => {
      const created = await cli('create', '--name', 'from the shell', '--team', alpha, '--scopes', 'read');
      const key = /^(opsk_\S+)$/m.exec(created.stdout)?.[1];
      const id = /Created API key ([0-9a-f-]{36})/.exec(created.stdout)?.[1];
      expect(key && id).toBeTruthy();
      expect((await call({ method: 'GET', path: `/api/v1/objects/${alphaObject.id}`, headers: as(key!) })).status).toBe(200);

      const listed = await cli('list');
      expect(listed.stdout).toContain(id);
      expect(listed.stdout).toContain('from the shell');
      expect(listed.stdout).not.toContain(key!.slice(-43));

      const revoked = await cli('revoke', id!);
      expect(revoked.stdout).toContain(`Revoked API key ${id!}`);
      // Revoked in another process: this one trusts the key it verified for API_KEY_CACHE_MS (5 s) at most.
      await waitFor(
        async () => (await call({ method: 'GET', path: `/api/v1/objects/${alphaObject.id}`, headers: as(key!) })).status === 401,
        {
          timeoutMs: 10_000,
          intervalMs: 250,
          what: 'the revoked key to be refused',
        },
      );
    });

    it('refuses bad arguments with a message and the usage, exiting 1', async () => {
      for (const args of [
        ['create', '--name', 'x', '--team', 'Bad Team', '--scopes', 'read'],
        ['create', '--name', 'x'],
        ['revoke', 'nope'],
        ['frobnicate'],
      ]) {
        const failure = (await cli(...args).then(
          () => null,
          (error: unknown) => error,
        )) as { code: number; stderr: string } | null;
        expect({ args, code: failure?.code }).toEqual({ args, code: 1 });
        expect(failure?.stderr).toContain('Usage: npm run keys');
      }
    });
  });
});
