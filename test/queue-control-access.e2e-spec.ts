import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { ApiKeysService } from '../src/access/api-keys.service';
import type { Scope } from '../src/access/principal';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { MAINTENANCE_QUEUE, RETENTION_SCHEDULER } from '../src/queue/maintenance-queue';
import { closeDatabase } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import type { components } from './support/api-types';

describe('queue pause, retention status and queue waits with access control (AUTH_REQUIRED=true)', () => {
  let service: TestApp;
  const alpha = `alpha-${randomUUID().slice(0, 8)}`;
  const beta = `beta-${randomUUID().slice(0, 8)}`;
  const keys = {} as Record<'admin' | 'alpha' | 'beta', string>;
  let adminKeyId: string;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const statusAs = async (key: string) =>
    (await request(service.baseUrl).get('/api/v1/status').set(as(key)).expect(200)).body as components['schemas']['StatusResponse'];
  const submitAndCancel = async (key: string) => {
    const { id } = (
      await request(service.baseUrl)
        .post('/api/v1/process')
        .set(as(key))
        .send({ identifier: uniqueIdentifier('team'), operations: ['validate'] })
        .expect(202)
    ).body as { id: string };
    await request(service.baseUrl).post(`/api/v1/objects/${id}/cancel`).set(as(key)).expect(200);
  };

  beforeAll(async () => {
    // API only, retention on with an age of 1 s: no worker runs it here, so the scheduler is set by hand, due in an hour.
    service = await startTestApp({
      AUTH_REQUIRED: 'true',
      APP_ROLE: 'api',
      RETENTION_MAX_AGE_SECONDS: '1',
      RETENTION_INTERVAL_SECONDS: '3600',
    });
    const apiKeys = service.app.get(ApiKeysService);
    const create = async (name: string, team: string, scopes: Scope[]) => apiKeys.create({ name, team, scopes });
    const admin = await create('queue admin', 'ops', ['admin']);
    adminKeyId = admin.key.id;
    keys.admin = admin.secret;
    keys.alpha = (await create('alpha writer', alpha, ['read', 'write'])).secret;
    keys.beta = (await create('beta writer', beta, ['read', 'write'])).secret;
    await service.app
      .get<Queue>(getQueueToken(MAINTENANCE_QUEUE))
      .upsertJobScheduler(RETENTION_SCHEDULER, { every: 3_600_000, startDate: Date.now() + 3_600_000 }, { name: RETENTION_SCHEDULER });
  });

  afterAll(async () => {
    await request(service.baseUrl).post('/api/v1/queue/resume').set(as(keys.admin)).expect(200);
    await service.close();
    await closeDatabase();
  });

  it('only an admin key pauses the shared queue; every team sees who paused it, and why', async () => {
    const refused = await request(service.baseUrl)
      .post('/api/v1/queue/pause')
      .set(as(keys.alpha))
      .send({ mode: 'stop', reason: 'mine' })
      .expect(403);
    expectErrorShape(refused.body as Record<string, unknown>, 403, 'insufficient_scope');
    expect((await statusAs(keys.alpha)).pause.paused).toBe(false);

    await request(service.baseUrl)
      .post('/api/v1/queue/pause')
      .set(as(keys.admin))
      .send({ mode: 'stop', reason: 'S3 migration' })
      .expect(200);
    for (const key of [keys.alpha, keys.beta]) {
      expect((await statusAs(key)).pause).toMatchObject({
        paused: true,
        mode: 'stop',
        reason: 'S3 migration',
        paused_by_key_id: adminKeyId,
        paused_by_key_name: 'queue admin',
      });
    }
    await request(service.baseUrl).post('/api/v1/queue/resume').set(as(keys.beta)).expect(403);
    await request(service.baseUrl).post('/api/v1/queue/resume').set(as(keys.admin)).expect(200);
    expect((await statusAs(keys.beta)).pause.paused).toBe(false);
  });

  it("counts the next retention run's objects per team; admin keys count every team", async () => {
    await submitAndCancel(keys.alpha);
    await submitAndCancel(keys.alpha);
    await submitAndCancel(keys.beta);

    const alphaRetention = (await statusAs(keys.alpha)).retention;
    expect(alphaRetention).toMatchObject({ enabled: true, max_age_seconds: 1, next_run_count: 2 });
    expect(Date.parse(alphaRetention.next_run_at!)).toBeGreaterThan(Date.now());
    expect((await statusAs(keys.beta)).retention.next_run_count).toBe(1);
    expect((await statusAs(keys.admin)).retention.next_run_count).toBeGreaterThanOrEqual(3);
  });

  it("explains the wait of the team's own queued object, and hides another team's", async () => {
    const { id } = (
      await request(service.baseUrl)
        .post('/api/v1/process')
        .set(as(keys.alpha))
        .send({ identifier: uniqueIdentifier('wait'), operations: ['validate'] })
        .expect(202)
    ).body as { id: string };
    const own = (await request(service.baseUrl).get(`/api/v1/progress/${id}`).set(as(keys.alpha)).expect(200))
      .body as components['schemas']['ProgressWithWaitingResponse'];
    expect(own.waiting).toMatchObject({
      position: expect.any(Number) as unknown,
      held_by: expect.arrayContaining(['no_workers']) as unknown,
    });
    const hidden = await request(service.baseUrl).get(`/api/v1/progress/${id}`).set(as(keys.beta)).expect(404);
    expectErrorShape(hidden.body as Record<string, unknown>, 404, 'object_not_found');
  });
});
