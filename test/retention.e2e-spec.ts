import request from 'supertest';
import type { ObjectResponse } from '../src/objects/dto/object.responses';
import { ProcessingQueue } from '../src/queue/processing-queue';
import { listS3Keys } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';
import type { components } from './support/api-types';

const MAX_AGE_SECONDS = 2;

describe('retention (RETENTION_MAX_AGE_SECONDS)', () => {
  let service: TestApp;
  const api = () => request(service.baseUrl);
  const submit = async (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    (await api().post('/api/v1/process').set(headers).send(body).expect(202)).body as { id: string; identifier: string; task_id: string };
  const stateOf = async (id: string) => ((await api().get(`/api/v1/objects/${id}`).expect(200)).body as ObjectResponse).state;
  const statusOf = async () => (await api().get('/api/v1/status').expect(200)).body as components['schemas']['StatusResponse'];
  const eventCount = async (id: string) =>
    Number((await query<{ count: string }>('select count(*) as count from object_events where object_id = $1', [id]))[0]!.count);

  beforeAll(async () => {
    service = await startTestApp({
      APP_ROLE: 'all',
      RETENTION_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS),
      RETENTION_INTERVAL_SECONDS: '1',
      RETENTION_BATCH_SIZE: '2',
      // Payloads go to S3 (none is kept inline), so that the live object has a stored source retention must leave.
      PAYLOAD_INLINE_MAX_BYTES: '0',
    });
  });

  afterAll(async () => {
    await api().post('/api/v1/queue/resume').expect(200);
    await service.close();
    await closeDatabase();
  });

  it('removes settled objects that finished longer ago than the age, with their events, idempotency keys, jobs and artifacts, in batches, and never touches a live one', async () => {
    const idempotencyKey = uniqueIdentifier('retention-key');
    const completed = [
      await submit(
        { identifier: uniqueIdentifier('kept-result'), operations: ['validate'], payload: { n: 1 } },
        { 'idempotency-key': idempotencyKey },
      ),
      await submit({ identifier: uniqueIdentifier('kept-result'), operations: ['transform'], payload: { n: 2 } }),
    ];
    const failed = await submit({
      identifier: uniqueIdentifier('failed'),
      operations: ['validate'],
      payload: { n: 3 },
      options: { validate: { json_schema: { type: 'string' } } },
    });
    for (const object of completed) {
      await waitFor(async () => (await stateOf(object.id)) === 'completed', { what: `${object.identifier} to complete` });
    }
    await waitFor(async () => (await stateOf(failed.id)) === 'failed', { what: 'the failing object to fail' });
    for (const object of [...completed, failed]) {
      expect((await listS3Keys(`${object.identifier}/`)).length).toBeGreaterThan(0);
    }

    await api().post('/api/v1/queue/pause').send({ mode: 'drain', reason: 'keeps an object queued' }).expect(200);
    const cancelled = await submit({ identifier: uniqueIdentifier('cancelled'), operations: ['validate'], payload: { n: 4 } });
    await api().post(`/api/v1/objects/${cancelled.id}/cancel`).expect(200);
    const live = await submit({ identifier: uniqueIdentifier('live'), operations: ['validate'], payload: { n: 5 } });
    const liveKeys = await listS3Keys(`${live.identifier}/`);
    expect(liveKeys).toEqual([`${live.identifier}/source/payload.json`]);
    const liveEvents = await eventCount(live.id);
    const liveCreatedAt = Date.parse(((await api().get(`/api/v1/objects/${live.id}`).expect(200)).body as ObjectResponse).created_at);

    const { retention } = await statusOf();
    expect(retention).toMatchObject({ enabled: true, max_age_seconds: MAX_AGE_SECONDS });
    expect(Date.parse(retention.next_run_at!)).not.toBeNaN();
    expect(retention.next_run_count).toEqual(expect.any(Number));

    const removed = [...completed, failed, cancelled];
    for (const object of removed) {
      await waitFor(async () => (await api().get(`/api/v1/objects/${object.id}`)).status === 404, {
        timeoutMs: 30_000,
        what: `${object.identifier} to be removed`,
      });
      // Its row goes first, then its artifacts.
      await waitFor(async () => (await listS3Keys(`${object.identifier}/`)).length === 0, {
        what: `the artifacts of ${object.identifier} to be removed`,
      });
    }
    for (const object of removed) {
      expect(await eventCount(object.id)).toBe(0);
      expect(await service.app.get(ProcessingQueue).jobFate(object.task_id)).toEqual({ state: 'unknown' });
    }
    expect(await query('select 1 from idempotency_keys where key = $1', [idempotencyKey])).toEqual([]);

    // Runs after the live object is older than the age too: it stays, whole.
    await waitFor(async () => Date.parse((await statusOf()).retention.next_run_at!) > liveCreatedAt + (MAX_AGE_SECONDS + 2) * 1000, {
      timeoutMs: 30_000,
      what: 'retention runs after the live object is older than the age',
    });
    expect(await stateOf(live.id)).toBe('queued');
    expect(await listS3Keys(`${live.identifier}/`)).toEqual(liveKeys);
    expect(await eventCount(live.id)).toBe(liveEvents);
  }, 90_000);
});
