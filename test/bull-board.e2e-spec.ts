import request from 'supertest';
import { ApiKeysService } from '../src/access/api-keys.service';
import { AppConfig, ConfigError } from '../src/config/app-config';
import { OBJECTS_QUEUE } from '../src/queue/jobs';
import { closeDatabase } from './support/database';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';

const BOARD = { BULL_BOARD_PATH: '/admin/queues', BULL_BOARD_USERNAME: 'operator', BULL_BOARD_PASSWORD: 'correct horse' };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('Bull Board queue dashboard', () => {
  const apps: TestApp[] = [];
  const start = async (overrides: Record<string, string>) => {
    const app = await startTestApp(overrides);
    apps.push(app);
    return app;
  };

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await closeDatabase();
  });

  it('is served at BULL_BOARD_PATH behind basic auth, showing the processing queue', async () => {
    const api = await start({ APP_ROLE: 'api', ...BOARD });
    const denied = await request(api.baseUrl).get('/admin/queues').expect(401);
    expect(denied.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect(denied.body).toMatchObject({ statusCode: 401, code: 'unauthorized' });
    await request(api.baseUrl).get('/admin/queues').set('authorization', basic('operator', 'wrong')).expect(401);
    await request(api.baseUrl).get('/admin/queues/api/queues').expect(401);

    const page = await request(api.baseUrl).get('/admin/queues').set('authorization', basic('operator', 'correct horse')).expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('/admin/queues');
    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(page.text)?.[1];
    expect(script).toBeDefined();
    await request(api.baseUrl).get(`/admin/queues/${script}`).expect(401);
    const asset = await request(api.baseUrl)
      .get(`/admin/queues/${script}`)
      .set('authorization', basic('operator', 'correct horse'))
      .expect(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);

    const { id } = (
      await request(api.baseUrl)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier('board'), operations: ['validate'] })
        .expect(202)
    ).body as { id: string };
    const queues = await request(api.baseUrl)
      .get(`/admin/queues/api/queues?activeQueue=${OBJECTS_QUEUE}&status=prioritized&page=1`)
      .set('authorization', basic('operator', 'correct horse'))
      .expect(200);
    const queue = (queues.body as { queues: { name: string; counts: Record<string, number> }[] }).queues.find(
      (candidate) => candidate.name === OBJECTS_QUEUE,
    );
    expect(queue).toBeDefined();
    expect(queue!.counts.waiting! + (queue!.counts.prioritized ?? 0)).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(queues.body)).toContain(id);

    const document = (await request(api.baseUrl).get('/docs/json').expect(200)).body as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/admin'))).toEqual([]);
  });

  it('is off unless BULL_BOARD_PATH is set, and never served by a worker-only process', async () => {
    const plain = await start({ APP_ROLE: 'api' });
    await request(plain.baseUrl).get('/admin/queues').expect(404);
    const worker = await start({ APP_ROLE: 'worker', ...BOARD });
    await request(worker.baseUrl).get('/admin/queues').set('authorization', basic('operator', 'correct horse')).expect(404);
  });

  it('with access control on and no credentials of its own, opens to admin API keys only', async () => {
    const api = await start({ APP_ROLE: 'api', AUTH_REQUIRED: 'true', BULL_BOARD_PATH: '/admin/queues' });
    const apiKeys = api.app.get(ApiKeysService);
    const admin = (await apiKeys.create({ name: 'board admin', team: 'ops', scopes: ['admin'] })).secret;
    const reader = (await apiKeys.create({ name: 'board reader', team: 'ops', scopes: ['read', 'write'] })).secret;
    const refused = await request(api.baseUrl).get('/admin/queues').expect(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Basic realm=/);
    await request(api.baseUrl).get('/admin/queues').set('authorization', basic('anyone', reader)).expect(401);
    await request(api.baseUrl).get('/admin/queues').set('authorization', basic('anyone', 'opsk_not_a_key')).expect(401);
    await request(api.baseUrl).get('/admin/queues').set('authorization', `Bearer ${reader}`).expect(401);
    await request(api.baseUrl).get('/admin/queues').set('authorization', basic('anyone', admin)).expect(200);
    await request(api.baseUrl).get('/admin/queues/api/queues').set('authorization', `Bearer ${admin}`).expect(200);
  });

  it('serves without credentials only when BULL_BOARD_INSECURE=true', async () => {
    const open = await start({ APP_ROLE: 'api', BULL_BOARD_PATH: '/ops/board', BULL_BOARD_INSECURE: 'true' });
    await request(open.baseUrl).get('/ops/board').expect(200);
  });

  it.each([
    [{ BULL_BOARD_PATH: '/admin/queues', AUTH_REQUIRED: 'false' }, 'BULL_BOARD_USERNAME'],
    [{ BULL_BOARD_PATH: '/admin/queues', BULL_BOARD_USERNAME: 'operator' }, 'BULL_BOARD_PASSWORD'],
    [{ BULL_BOARD_PATH: 'admin' }, 'BULL_BOARD_PATH'],
    [{ BULL_BOARD_PATH: '/api/queues', BULL_BOARD_INSECURE: 'true' }, 'BULL_BOARD_PATH'],
  ])('refuses the configuration %j, naming %s', (env, name) => {
    expect(() => new AppConfig(env)).toThrow(ConfigError);
    expect(() => new AppConfig(env)).toThrow(name);
  });
});
