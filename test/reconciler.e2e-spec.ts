import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { taskIdFor } from '../src/queue/jobs';
import { closeDatabase, query } from './support/database';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

describe('an object whose job never reached the queue', () => {
  let service: TestApp;

  beforeAll(async () => {
    service = await startTestApp({ RECONCILE_INTERVAL_MS: '300' });
  });

  afterAll(async () => {
    await service.close();
    await closeDatabase();
  });

  it('is found by the reconciler, re-queued and processed', async () => {
    const id = randomUUID();
    const identifier = uniqueIdentifier('stranded');
    await query(
      `insert into processing_objects (id, identifier, state, operations, plan, progress, task_id, attempts, created_at, updated_at)
       values ($1, $2, 'queued', '["validate"]', '["validate"]', '{"current":0,"total":1,"message":"Queued"}', $3, 1, now() - interval '1 minute', now() - interval '1 minute')`,
      [id, identifier, taskIdFor(id, 1)],
    );

    const progress = await waitFor(async () => {
      const response = await request(service.baseUrl).get(`/api/v1/progress/${id}`).expect(200);
      return response.body.state === 'completed' && response.body;
    });
    expect(progress.operations_status.validate).toMatchObject({ completed: true, attempts: 1 });
  });
});
