import { randomUUID } from 'node:crypto';
import { ApiKeysService } from '../src/access/api-keys.service';
import type { Scope } from '../src/access/principal';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { ServiceProcess, spawnService } from './support/service-process';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { sampleValue } from './support/prometheus';
import { waitFor } from './support/wait-for';
import { ReceivedWebhook, WebhookReceiver, signatureIsValid } from './support/webhook-receiver';

// The receiver listens on 127.0.0.1, which every app here allows explicitly (WEBHOOK_ALLOWED_HOSTS); `localhost` stays
// refused unless a test allows it. Deliveries are polled and retried fast: the schedule is configuration.
const FAST_DELIVERY = {
  WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  WEBHOOK_POLL_INTERVAL_MS: '100',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_RETRY_WINDOW_SECONDS: '3',
  WEBHOOK_TIMEOUT_MS: '2000',
};

interface Call {
  method: string;
  path: string;
  key?: string;
  body?: unknown;
}

interface Response {
  status: number;
  body: Record<string, unknown>;
}

interface Delivery {
  id: string;
  webhook_id: string | null;
  object_id: string;
  event: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
}

const receiver = new WebhookReceiver();
let receiverUrl: string;
/** Every object this suite made, deleted (rows, deliveries and S3 artifacts) by the app that made it before it closes. */
const createdObjects: { app: TestApp; id: string; key?: string }[] = [];
const createdWebhooks: string[] = [];

async function call(app: TestApp, { method, path, key, body }: Call): Promise<Response> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function submit(app: TestApp, body: Record<string, unknown>, key?: string): Promise<Response> {
  const response = await call(app, {
    method: 'POST',
    path: '/api/v1/process',
    key,
    body: { identifier: uniqueIdentifier('webhook'), operations: ['validate'], ...body },
  });
  if (response.status === 202) {
    createdObjects.push({ app, id: response.body.id as string, key });
  }
  return response;
}

async function registerWebhook(app: TestApp, body: Record<string, unknown>, key?: string): Promise<Response> {
  const response = await call(app, { method: 'POST', path: '/api/v1/webhooks', key, body });
  if (response.status === 201) {
    createdWebhooks.push(response.body.id as string);
  }
  return response;
}

async function deliveries(app: TestApp, path: string, key?: string): Promise<Delivery[]> {
  const response = await call(app, { method: 'GET', path, key });
  expect(response.status).toBe(200);
  return response.body.items as Delivery[];
}

function payloadOf(request: ReceivedWebhook): { type: string; timestamp: string; data: Record<string, unknown> } {
  return JSON.parse(request.body) as never;
}

/** The requests to `path` about the object `id`. */
function requestsAbout(path: string, id: string): ReceivedWebhook[] {
  return receiver.to(path).filter((request) => payloadOf(request).data.id === id);
}

/**
 * Deletes the objects `app` made: nothing of this suite may keep being delivered to the closed receiver by later
 * suites' workers, and the shared bucket stays as small as other suites expect.
 */
async function deleteObjectsOf(app: TestApp): Promise<void> {
  for (const object of createdObjects.filter((created) => created.app === app)) {
    const deleted = await call(app, { method: 'DELETE', path: `/api/v1/objects/${object.id}`, key: object.key });
    expect({ id: object.id, status: deleted.status }).toEqual({ id: object.id, status: 204 });
  }
}

beforeAll(async () => {
  receiverUrl = await receiver.start();
});

afterAll(async () => {
  await query('delete from webhooks where id = any($1::uuid[])', [createdWebhooks]);
  await receiver.close();
  await closeDatabase();
});

describe('webhooks (API and worker in one process)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp(FAST_DELIVERY);
  });

  afterAll(async () => {
    await deleteObjectsOf(app);
    await app.close();
  });

  it("delivers an object's own webhook once it completes: its progress view, signed with the secret of the 202", async () => {
    const submitted = await submit(app, { webhook: { url: `${receiverUrl}/own`, events: ['completed'] } });
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    const secret = submitted.body.webhook_secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const [request] = await waitFor(() => requestsAbout('/own', id).length > 0 && requestsAbout('/own', id), {
      what: 'the delivery of the own webhook',
    });
    expect(request!.headers['content-type']).toBe('application/json');
    expect(signatureIsValid(secret, request!)).toBe(true);
    expect(signatureIsValid(`whsec_${Buffer.alloc(32).toString('base64')}`, request!)).toBe(false);
    const progress = await call(app, { method: 'GET', path: `/api/v1/progress/${id}` });
    expect(payloadOf(request!)).toEqual({ type: 'object.completed', timestamp: expect.any(String) as unknown, data: progress.body });
    expect(progress.body.state).toBe('completed');

    const recorded = await waitFor(async () => {
      const items = await deliveries(app, `/api/v1/objects/${id}/webhook-deliveries`);
      return items[0]?.status === 'delivered' && items;
    });
    expect(recorded).toEqual([
      expect.objectContaining({
        id: request!.headers['webhook-id'],
        webhook_id: null,
        object_id: id,
        event: 'completed',
        status: 'delivered',
        attempts: 1,
        last_status_code: 200,
        last_error: null,
        next_attempt_at: null,
      }),
    ]);
    // The secret is not part of the object as shown.
    const object = await call(app, { method: 'GET', path: `/api/v1/objects/${id}` });
    expect(JSON.stringify(object.body)).not.toContain(secret);
  });

  it('a team webhook gets the events it asked for, retried after 500s under one webhook-id, and records each attempt', async () => {
    receiver.answer('/team-retry', (nth) => (nth < 2 ? 500 : 204));
    const created = await registerWebhook(app, { url: `${receiverUrl}/team-retry`, events: ['completed', 'cancelled'] });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String) as unknown,
      team: 'default',
      url: `${receiverUrl}/team-retry`,
      events: ['completed', 'cancelled'],
      created_at: expect.any(String) as unknown,
      secret: expect.stringMatching(/^whsec_/) as unknown,
    });
    const webhookId = created.body.id as string;
    const listed = await call(app, { method: 'GET', path: '/api/v1/webhooks' });
    expect((listed.body.items as Record<string, unknown>[]).find((item) => item.id === webhookId)).toEqual({
      ...created.body,
      secret: undefined,
    });

    const id = (await submit(app, {})).body.id as string;
    const requests = await waitFor(() => requestsAbout('/team-retry', id).length >= 3 && requestsAbout('/team-retry', id), {
      what: 'three attempts',
    });
    expect(requests.map((request) => request.answeredWith)).toEqual([500, 500, 204]);
    expect(new Set(requests.map((request) => request.headers['webhook-id'])).size).toBe(1);
    for (const request of requests) {
      expect(signatureIsValid(created.body.secret as string, request)).toBe(true);
      expect(payloadOf(request)).toMatchObject({ type: 'object.completed', data: { id, state: 'completed' } });
    }

    const recorded = await waitFor(async () => {
      const items = (await deliveries(app, `/api/v1/webhooks/${webhookId}/deliveries`)).filter((item) => item.object_id === id);
      return items[0]?.status === 'delivered' && items;
    });
    expect(recorded).toEqual([
      expect.objectContaining({
        webhook_id: webhookId,
        event: 'completed',
        status: 'delivered',
        attempts: 3,
        last_status_code: 204,
        last_error: null,
      }),
    ]);
    expect(await deliveries(app, `/api/v1/objects/${id}/webhook-deliveries`)).toEqual(recorded);
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(sampleValue(metrics, 'webhook_delivery_attempts_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(2);
    expect(sampleValue(metrics, 'webhook_delivery_attempts_total', { outcome: 'delivered' })).toBeGreaterThanOrEqual(1);

    // Not asked for: no delivery of a failure.
    expect(
      receiver
        .to('/team-retry')
        .filter((request) => payloadOf(request).type !== 'object.completed' && payloadOf(request).type !== 'object.cancelled'),
    ).toEqual([]);

    expect((await call(app, { method: 'DELETE', path: `/api/v1/webhooks/${webhookId}` })).status).toBe(204);
    const gone = await call(app, { method: 'GET', path: `/api/v1/webhooks/${webhookId}/deliveries` });
    expect(gone.status).toBe(404);
    expectErrorShape(gone.body, 404, 'webhook_not_found');
  });

  it('gives up after the retry window, keeping the last error, when the receiver never accepts', async () => {
    receiver.answer('/always-500', () => 500);
    const submitted = await submit(app, { webhook: { url: `${receiverUrl}/always-500` } });
    const id = submitted.body.id as string;
    const [failed] = await waitFor(
      async () => {
        const items = await deliveries(app, `/api/v1/objects/${id}/webhook-deliveries`);
        return items[0]?.status === 'failed' && items;
      },
      { timeoutMs: 30_000, what: 'the delivery to fail for good' },
    );
    expect(failed).toMatchObject({
      status: 'failed',
      last_status_code: 500,
      last_error: expect.stringMatching(/^HTTP 500: refused by the test receiver/) as unknown,
      next_attempt_at: null,
    });
    expect(failed!.attempts).toBeGreaterThan(1);
    expect(requestsAbout('/always-500', id)).toHaveLength(failed!.attempts);
  });

  it('takes a webhook per item of a batch: each accepted item gets its own secret, a refused destination refuses only its item', async () => {
    const good = uniqueIdentifier('webhook-batch');
    const bad = uniqueIdentifier('webhook-batch');
    const response = await call(app, {
      method: 'POST',
      path: '/api/v1/process/batch',
      body: {
        objects: [
          { identifier: good, operations: ['validate'], webhook: { url: `${receiverUrl}/batch` } },
          { identifier: bad, operations: ['validate'], webhook: { url: 'http://169.254.169.254/latest' } },
        ],
      },
    });
    expect(response.status).toBe(200);
    const [accepted, refused] = response.body.items as {
      status: number;
      result?: Record<string, unknown>;
      error?: Record<string, unknown>;
    }[];
    expect(accepted).toMatchObject({
      status: 202,
      result: { identifier: good, webhook_secret: expect.stringMatching(/^whsec_/) as unknown },
    });
    expect(refused).toMatchObject({ status: 400, error: { code: 'webhook_destination_refused' } });
    const id = accepted!.result!.id as string;
    createdObjects.push({ app, id });
    const [request] = await waitFor(() => requestsAbout('/batch', id).length > 0 && requestsAbout('/batch', id));
    expect(signatureIsValid(accepted!.result!.webhook_secret as string, request!)).toBe(true);
    expect(await query('select id from processing_objects where identifier = $1', [bad])).toEqual([]);
  });

  it('follows no redirect and waits for no answer longer than WEBHOOK_TIMEOUT_MS', async () => {
    receiver.answer('/redirect', () => 302);
    receiver.answer('/silent', () => 'hold');
    const redirected = (await submit(app, { webhook: { url: `${receiverUrl}/redirect` } })).body.id as string;
    const unanswered = (await submit(app, { webhook: { url: `${receiverUrl}/silent` } })).body.id as string;
    const lastErrorOf = async (id: string) => (await deliveries(app, `/api/v1/objects/${id}/webhook-deliveries`))[0]?.last_error ?? false;
    expect(await waitFor(() => lastErrorOf(redirected))).toMatch(/^HTTP 302 \(redirects are not followed\)/);
    expect(receiver.to('/redirected')).toEqual([]);
    expect(await waitFor(() => lastErrorOf(unanswered), { timeoutMs: 30_000 })).toBe('No answer within 2000 ms');
  });

  it('refuses destinations on loopback, private, link-local, metadata and unspecified addresses at registration, writing nothing', async () => {
    const refused = [
      `http://localhost:${receiver.port}/x`,
      'http://127.0.0.2/x',
      'http://10.1.2.3/x',
      'http://172.16.0.1/x',
      'http://192.168.1.1/x',
      'http://169.254.169.254/latest/meta-data',
      'http://169.254.10.10/x',
      'http://0.0.0.0/x',
      'http://[::1]/x',
      'http://[fd00:ec2::254]/x',
      'http://[fc00::1]/x',
      'http://[fe80::1]/x',
      'http://[::ffff:127.0.0.1]/x',
      'ftp://127.0.0.1/x',
      'http://user:password@127.0.0.1/x',
      'not a url',
    ];
    for (const url of refused) {
      const response = await registerWebhook(app, { url });
      expect({ url, status: response.status, code: response.body.code }).toEqual({ url, status: 400, code: 'webhook_destination_refused' });
      expectErrorShape(response.body, 400, 'webhook_destination_refused');
    }
    const metadata = await registerWebhook(app, { url: 'http://169.254.169.254/latest/meta-data' });
    expect(metadata.body.message).toMatch(/metadata/);

    const identifier = uniqueIdentifier('webhook-refused');
    const submitted = await call(app, {
      method: 'POST',
      path: '/api/v1/process',
      body: { identifier, operations: ['validate'], webhook: { url: `http://localhost:${receiver.port}/own` } },
    });
    expect(submitted.status).toBe(400);
    expectErrorShape(submitted.body, 400, 'webhook_destination_refused');
    expect(submitted.body.details).toEqual([{ field: 'webhook.url', message: expect.stringMatching(/loopback/) as unknown }]);
    expect(await query('select id from processing_objects where identifier = $1', [identifier])).toEqual([]);

    const badEvents = await registerWebhook(app, { url: `${receiverUrl}/x`, events: ['started'] });
    expect(badEvents.status).toBe(400);
    expectErrorShape(badEvents.body, 400, 'validation_failed');
  });

  it('takes the webhook as a multipart field too', async () => {
    const form = new FormData();
    form.set('identifier', uniqueIdentifier('webhook-upload'));
    form.set('operations', 'validate');
    form.set('webhook', JSON.stringify({ url: `${receiverUrl}/upload`, events: ['completed'] }));
    form.set('file', new Blob(['{"a":1}'], { type: 'application/json' }), 'a.json');
    const response = await fetch(`${app.baseUrl}/api/v1/process`, { method: 'POST', body: form });
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.status).toBe(202);
    createdObjects.push({ app, id: body.id as string });
    const [request] = await waitFor(
      () => requestsAbout('/upload', body.id as string).length > 0 && requestsAbout('/upload', body.id as string),
    );
    expect(signatureIsValid(body.webhook_secret as string, request!)).toBe(true);
  });
});

describe('webhooks delivered by separate worker processes', () => {
  let api: TestApp;
  const workers: ServiceProcess[] = [];
  // Jobs of a killed worker come back within seconds, and a killed delivery's claim lapses after 2 × 1 s + 1 s.
  const WORKER_ENV = {
    ...FAST_DELIVERY,
    WEBHOOK_TIMEOUT_MS: '1000',
    WORKER_LOCK_DURATION_MS: '2000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    RECONCILE_INTERVAL_MS: '1000',
  };

  function spawnWorker(overrides: Record<string, string> = {}): ServiceProcess {
    const worker = spawnService({ ...api.env, APP_ROLE: 'worker', LOG_LEVEL: 'log', ...WORKER_ENV, ...overrides });
    workers.push(worker);
    return worker;
  }

  beforeAll(async () => {
    // The API allows `localhost` so that the delivery-time check of the workers (which do not) can be seen refusing it.
    api = await startTestApp({ ...FAST_DELIVERY, APP_ROLE: 'api', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1,localhost' });
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop('SIGKILL')));
  });

  afterAll(async () => {
    await deleteObjectsOf(api);
    await api.close();
  });

  it('loses no delivery when the worker is SIGKILLed between settling objects and delivering them', async () => {
    let holding = true;
    receiver.answer('/kill', () => (holding ? 'hold' : 200));
    const first = spawnWorker();
    await first.waitForOutput(/Running as role 'worker'/, 60_000);
    const ids: string[] = [];
    const secrets = new Map<string, string>();
    for (let index = 0; index < 4; index++) {
      const submitted = await submit(api, { webhook: { url: `${receiverUrl}/kill` } });
      ids.push(submitted.body.id as string);
      secrets.set(submitted.body.id as string, submitted.body.webhook_secret as string);
    }
    // The worker has settled at least one object and is in the middle of delivering it.
    await waitFor(() => receiver.heldCount() > 0, { timeoutMs: 60_000, what: 'a delivery held by the receiver' });
    first.child.kill('SIGKILL');
    await first.exited;
    holding = false;

    spawnWorker();
    const delivered = await waitFor(
      () => {
        const answered = receiver.to('/kill').filter((request) => request.answeredWith === 200);
        const about = new Set(answered.map((request) => payloadOf(request).data.id as string));
        return ids.every((id) => about.has(id)) && answered;
      },
      { timeoutMs: 90_000, what: 'a delivery about every object' },
    );
    for (const request of delivered) {
      const data = payloadOf(request).data;
      expect(data.state).toBe('completed');
      expect(signatureIsValid(secrets.get(data.id as string)!, request)).toBe(true);
    }
    for (const id of ids) {
      const items = await waitFor(async () => {
        const recorded = await deliveries(api, `/api/v1/objects/${id}/webhook-deliveries`);
        return recorded[0]?.status === 'delivered' && recorded;
      });
      expect(items).toHaveLength(1);
    }
  }, 180_000);

  it('checks the destination again when delivering: a host that now resolves to a loopback address is refused', async () => {
    const worker = spawnWorker();
    await worker.waitForOutput(/Running as role 'worker'/, 60_000);
    const submitted = await submit(api, { webhook: { url: `http://localhost:${receiver.port}/rebound` } });
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    const [refused] = await waitFor(
      async () => {
        const items = await deliveries(api, `/api/v1/objects/${id}/webhook-deliveries`);
        return items[0] && items[0].attempts >= 2 && items;
      },
      { timeoutMs: 60_000, what: 'two refused attempts' },
    );
    expect(refused).toMatchObject({
      status: 'pending',
      last_status_code: null,
      last_error: expect.stringMatching(/^The webhook host 'localhost' resolves to (127\.0\.0\.1|::1), a loopback address/) as unknown,
    });
    expect(receiver.to('/rebound')).toEqual([]);
    // Its delivery would otherwise go on being tried by the next describe's worker.
    expect((await call(api, { method: 'DELETE', path: `/api/v1/objects/${id}` })).status).toBe(204);
    expect(await query('select id from webhook_deliveries where object_id = $1', [id])).toEqual([]);
    createdObjects.splice(
      createdObjects.findIndex((created) => created.id === id),
      1,
    );
  }, 120_000);
});

describe('webhooks and teams (AUTH_REQUIRED=true)', () => {
  let app: TestApp;
  const alpha = `alpha-${randomUUID().slice(0, 8)}`;
  const beta = `beta-${randomUUID().slice(0, 8)}`;
  const keys = {} as Record<'alphaWriter' | 'alphaReader' | 'betaWriter', string>;

  beforeAll(async () => {
    app = await startTestApp({ ...FAST_DELIVERY, AUTH_REQUIRED: 'true' });
    const apiKeys = app.app.get(ApiKeysService);
    const create = async (name: string, team: string, scopes: Scope[]) => (await apiKeys.create({ name, team, scopes })).secret;
    keys.alphaWriter = await create('alpha writer', alpha, ['read', 'write']);
    keys.alphaReader = await create('alpha reader', alpha, ['read']);
    keys.betaWriter = await create('beta writer', beta, ['read', 'write']);
  });

  afterAll(async () => {
    await deleteObjectsOf(app);
    await app.close();
  });

  it("keeps each team's webhooks and deliveries to itself, and tells a team's webhook only of that team's objects", async () => {
    const refusedToReader = await registerWebhook(app, { url: `${receiverUrl}/alpha` }, keys.alphaReader);
    expect(refusedToReader.status).toBe(403);
    expectErrorShape(refusedToReader.body, 403, 'insufficient_scope');

    const created = await registerWebhook(app, { url: `${receiverUrl}/alpha` }, keys.alphaWriter);
    expect(created.status).toBe(201);
    expect(created.body.team).toBe(alpha);
    const webhookId = created.body.id as string;

    const listedToAlpha = await call(app, { method: 'GET', path: '/api/v1/webhooks', key: keys.alphaReader });
    expect((listedToAlpha.body.items as { id: string }[]).map((item) => item.id)).toEqual([webhookId]);
    const listedToBeta = await call(app, { method: 'GET', path: '/api/v1/webhooks', key: keys.betaWriter });
    expect(listedToBeta).toEqual({ status: 200, body: { items: [] } });
    for (const attempt of [
      { method: 'GET', path: `/api/v1/webhooks/${webhookId}/deliveries` },
      { method: 'DELETE', path: `/api/v1/webhooks/${webhookId}` },
    ]) {
      const response = await call(app, { ...attempt, key: keys.betaWriter });
      expect({ attempt, status: response.status }).toEqual({ attempt, status: 404 });
      expectErrorShape(response.body, 404, 'webhook_not_found');
    }

    const betaObject = (await submit(app, {}, keys.betaWriter)).body.id as string;
    const alphaObject = (await submit(app, {}, keys.alphaWriter)).body.id as string;
    await waitFor(() => requestsAbout('/alpha', alphaObject).length > 0, { what: "the delivery of alpha's object" });
    // Beta's object settled too (its row says so), and alpha's webhook was told nothing of it.
    await waitFor(
      async () =>
        (await query<{ state: string }>('select state from processing_objects where id = $1', [betaObject]))[0]?.state === 'completed',
    );
    expect(requestsAbout('/alpha', betaObject)).toEqual([]);
    expect(await query('select id from webhook_deliveries where object_id = $1', [betaObject])).toEqual([]);

    const alphaDeliveries = await call(app, {
      method: 'GET',
      path: `/api/v1/objects/${alphaObject}/webhook-deliveries`,
      key: keys.betaWriter,
    });
    expect(alphaDeliveries.status).toBe(404);
    expectErrorShape(alphaDeliveries.body, 404, 'object_not_found');
    const own = await call(app, { method: 'GET', path: `/api/v1/webhooks/${webhookId}/deliveries`, key: keys.alphaReader });
    expect((own.body.items as Delivery[]).map((item) => item.object_id)).toEqual([alphaObject]);

    expect((await call(app, { method: 'DELETE', path: `/api/v1/webhooks/${webhookId}`, key: keys.alphaWriter })).status).toBe(204);
    expect((await call(app, { method: 'GET', path: '/api/v1/webhooks', key: keys.alphaReader })).body).toEqual({ items: [] });
  });
});
