import request from 'supertest';
import type { ObjectResponse } from '../src/objects/dto/object.responses';
import { ShutdownSignal } from '../src/common/shutdown-signal';
import { closeDatabase } from './support/database';
import { ServiceProcess, freePort, spawnService } from './support/service-process';
import { openSse } from './support/sse';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

const PLAN = ['validate', 'transform', 'enrich', 'analyze'];

describe('graceful shutdown on SIGTERM', () => {
  let api: TestApp;
  const processes: ServiceProcess[] = [];
  const spawn = (env: Record<string, string>) => {
    const service = spawnService({ ...api.env, LOG_LEVEL: 'log', ...env });
    processes.push(service);
    return service;
  };
  const objectOf = async (identifier: string) =>
    (await request(api.baseUrl).get(`/api/v1/objects/${identifier}`).expect(200)).body as ObjectResponse;

  beforeAll(async () => {
    api = await startTestApp({ APP_ROLE: 'api' });
  });

  afterAll(async () => {
    await Promise.all(processes.map((service) => service.stop('SIGKILL')));
    await api.close();
    await closeDatabase();
  });

  it('a stopping worker finishes its current operation, hands the job back, and another worker completes the object without repeating anything', async () => {
    const first = spawn({ APP_ROLE: 'worker', SIMULATED_OPERATION_DELAY_MS: '1200', SHUTDOWN_TIMEOUT_MS: '20000' });
    await first.waitForOutput(/Running as role 'worker'/);
    const identifier = uniqueIdentifier('sigterm');
    await request(api.baseUrl)
      .post('/api/v1/process')
      .send({ identifier, operations: ['analyze'] })
      .expect(202);
    await waitFor(async () => (await objectOf(identifier)).operations_status.transform!.started_at !== null, {
      what: 'transform to start',
    });

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/handed back to the queue/);
    const handedBack = await objectOf(identifier);
    expect(handedBack.state).toBe('processing');
    expect(handedBack.operations_status.transform!.completed).toBe(true);
    expect(handedBack.operations_status.enrich!.started_at).toBeNull();

    const second = spawn({ APP_ROLE: 'worker', SIMULATED_OPERATION_DELAY_MS: '100' });
    const done = await waitFor(
      async () => {
        const object = await objectOf(identifier);
        return object.state === 'completed' && object;
      },
      { timeoutMs: 60_000, what: 'the second worker to complete the object' },
    );
    for (const operation of PLAN) {
      expect(done.operations_status[operation]).toMatchObject({ completed: true, attempts: 1 });
    }
    expect(done.operations_status.validate!.finished_at).toBe(handedBack.operations_status.validate!.finished_at);
    await second.waitForOutput(/completed/);
    // The next test's object must stay queued until its API stops: no worker of this queue may take it.
    expect(await second.stop('SIGTERM')).toBe(0);
  }, 120_000);

  it('a stopping API breaks its event streams off (so clients reconnect and resume) and exits cleanly', async () => {
    const port = await freePort();
    const apiProcess = spawn({ APP_ROLE: 'api', PORT: String(port), HOST: '127.0.0.1' });
    await apiProcess.waitForOutput(/Listening on/);
    const baseUrl = `http://127.0.0.1:${port}`;
    const { id } = (
      await request(baseUrl)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier('sse-stop'), operations: ['validate'] })
        .expect(202)
    ).body as { id: string };
    const stream = await openSse(`${baseUrl}/api/v1/progress/${id}/stream`);
    await waitFor(() => stream.events.length > 0, { what: 'the first event' });

    apiProcess.child.kill('SIGTERM');
    expect(await stream.ended).toBe('interrupted');
    expect(stream.retry).toBe(1000);
    expect(await apiProcess.exited).toBe(0);
    expect(apiProcess.output()).toMatch(/SIGTERM received/);
    expect(apiProcess.output()).toMatch(/Stopped/);
  }, 60_000);

  it('turns not ready as soon as shutdown begins, while staying live', async () => {
    const stopping = await startTestApp({ APP_ROLE: 'api' });
    try {
      await request(stopping.baseUrl).get('/health/ready').expect(200);
      stopping.app.get(ShutdownSignal).begin();
      const ready = await request(stopping.baseUrl).get('/health/ready').expect(503);
      expect(ready.body).toMatchObject({ code: 'not_ready', message: 'Not ready: shutting down' });
      await request(stopping.baseUrl).get('/health/live').expect(200);
    } finally {
      await stopping.close();
    }
  });
});
