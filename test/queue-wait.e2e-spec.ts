import request from 'supertest';
import type { ProgressWithWaitingResponse } from '../src/objects/dto/object.responses';
import { closeDatabase } from './support/database';
import { ServiceProcess, spawnService } from './support/service-process';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

describe('why a queued object waits (GET /api/v1/progress/{id} → waiting)', () => {
  let api: TestApp;
  let worker: ServiceProcess | undefined;
  const submit = async (operations: string[], priority = 5) =>
    (
      await request(api.baseUrl)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier('wait'), operations, priority })
        .expect(202)
    ).body as { id: string };
  const progressOf = async (id: string) =>
    (await request(api.baseUrl).get(`/api/v1/progress/${id}`).expect(200)).body as ProgressWithWaitingResponse;

  beforeAll(async () => {
    api = await startTestApp({ APP_ROLE: 'api', MAX_PARALLEL_WORKERS: '1' });
  });

  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await api.close();
    await closeDatabase();
  });

  it('shows the place in the queue and what holds it: no workers, higher priorities, earlier submissions, a pause', async () => {
    const first = await submit(['validate']);
    const second = await submit(['validate']);
    const urgent = await submit(['validate'], 9);

    expect((await progressOf(urgent.id)).waiting).toMatchObject({
      position: 1,
      higher_priority_ahead: 0,
      held_by: ['no_workers'],
      estimated_start_seconds: null,
    });
    expect((await progressOf(first.id)).waiting).toMatchObject({
      position: 2,
      higher_priority_ahead: 1,
      held_by: ['no_workers', 'higher_priority'],
    });
    const last = await progressOf(second.id);
    expect(last.waiting).toMatchObject({
      position: 3,
      higher_priority_ahead: 1,
      held_by: ['no_workers', 'higher_priority', 'earlier_submissions'],
    });
    expect(last.waiting!.estimate_sample_size).toEqual(expect.any(Number));

    await request(api.baseUrl).post('/api/v1/queue/pause').send({ mode: 'drain', reason: 'look at the queue' }).expect(200);
    expect((await progressOf(urgent.id)).waiting!.held_by).toEqual(['paused', 'no_workers']);
    await request(api.baseUrl).post('/api/v1/queue/resume').expect(200);

    await request(api.baseUrl).post(`/api/v1/objects/${first.id}/cancel`).expect(200);
    expect(await progressOf(first.id)).not.toHaveProperty('waiting');
    expect((await progressOf(second.id)).waiting).toMatchObject({ position: 2, higher_priority_ahead: 1 });
  });

  it('names the global limit while another object runs, and estimates from the durations of recently completed objects', async () => {
    worker = spawnService({ ...api.env, APP_ROLE: 'worker', LOG_LEVEL: 'log', SIMULATED_OPERATION_DELAY_MS: '700' });
    await worker.waitForOutput(/Running as role 'worker'/);
    // The queue of the first test drains; its objects are the history the estimates start from.
    const history = await submit(['validate']);
    await waitFor(async () => (await progressOf(history.id)).state === 'completed', { timeoutMs: 30_000, what: 'the queue to drain' });

    const running = await submit(['analyze']);
    await waitFor(async () => (await progressOf(running.id)).state === 'processing', { what: 'the long object to start' });
    const queued = await submit(['validate']);
    const { waiting, state } = await progressOf(queued.id);
    expect(state).toBe('queued');
    expect(waiting).toMatchObject({ position: 1, higher_priority_ahead: 0, held_by: ['global_limit'] });
    expect(waiting!.estimate_sample_size).toBeGreaterThan(0);
    expect(waiting!.estimated_run_seconds).toBeGreaterThan(0);
    expect(waiting!.estimated_start_seconds).toBeGreaterThan(0);

    await waitFor(async () => (await progressOf(queued.id)).state === 'completed', { timeoutMs: 30_000, what: 'the queued object to run' });
    expect(await progressOf(queued.id)).not.toHaveProperty('waiting');
  }, 90_000);
});
