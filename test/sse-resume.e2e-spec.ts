import { EventSource } from 'eventsource';
import request from 'supertest';
import { ServiceProcess, freePort, spawnService } from './support/service-process';
import { uniqueIdentifier, uniquePrefix } from './support/test-app';
import { waitFor } from './support/wait-for';
import type { components } from './support/api-types';

/**
 * A standard EventSource client (the `eventsource` package, which follows the WHATWG spec) against the
 * built service as separate API and worker processes, while the API restarts under it.
 */
describe('a standard EventSource client across an API restart', () => {
  const processes: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(processes.map((service) => service.stop('SIGKILL')));
  });

  function start(env: Record<string, string>): ServiceProcess {
    const service = spawnService(env);
    processes.push(service);
    return service;
  }

  it('reconnects by itself, resumes after the last event it saw without a gap or a repeat, and stops after the final event', async () => {
    const port = await freePort();
    const env = { ...(process.env as Record<string, string>), REDIS_PREFIX: uniquePrefix(), HOST: '127.0.0.1', LOG_LEVEL: 'log' };
    const apiEnv = { ...env, APP_ROLE: 'api', PORT: String(port) };
    start({ ...env, APP_ROLE: 'worker', PROBE_PORT: '0', SIMULATED_OPERATION_DELAY_MS: '800' });
    let api = start(apiEnv);
    await api.waitForOutput(/Listening on/);
    const baseUrl = `http://127.0.0.1:${port}`;
    const submitted = await request(baseUrl)
      .post('/api/v1/process')
      .send({ identifier: uniqueIdentifier('sse-restart'), operations: ['analyze'], payload: [{ a: 1 }] })
      .expect(202);
    const { id } = submitted.body as { id: string };

    const received: { id: number; state: string; current: number }[] = [];
    const source = new EventSource(`${baseUrl}/api/v1/progress/${id}/stream`);
    source.addEventListener('progress', (event) => {
      const progress = JSON.parse(event.data as string) as { state: string; progress: { current: number } };
      received.push({ id: Number(event.lastEventId), state: progress.state, current: progress.progress.current });
    });
    try {
      await waitFor(() => received.length >= 2, { timeoutMs: 30_000, what: 'two events before the restart' });
      await api.stop('SIGTERM');
      const beforeRestart = received.length;
      api = start(apiEnv);
      await api.waitForOutput(/Listening on/);

      await waitFor(() => source.readyState === EventSource.CLOSED, {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: 'the client to stop after the final event',
      });
      expect(received.length).toBeGreaterThan(beforeRestart);
      const ids = received.map((event) => event.id);
      expect(ids).toEqual(ids.map((_, index) => ids[0]! + index));
      expect(received[received.length - 1]).toMatchObject({ state: 'completed', current: 4 });
      const progress = await request(baseUrl).get(`/api/v1/progress/${id}`).expect(200);
      expect((progress.body as components['schemas']['ProgressResponse']).state).toBe('completed');
    } finally {
      source.close();
    }
  }, 120_000);
});
