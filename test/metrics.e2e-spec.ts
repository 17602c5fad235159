import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { closeDatabase, objectRow } from './support/database';
import { sampleValue, samplesOf } from './support/prometheus';
import { ServiceProcess, freePort, spawnService } from './support/service-process';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';
import { cuttableProxy } from './support/cuttable-proxy';
import { waitUntilSettled } from './support/objects';
import { S3FaultProxy, accessDeniedTo } from './support/s3-fault-proxy';
import { openSse } from './support/sse';

async function submit(service: TestApp, body: Record<string, unknown>): Promise<{ id: string; task_id: string }> {
  return (await request(service.baseUrl).post('/api/v1/process').send(body).expect(202)).body as { id: string; task_id: string };
}

const settled = (service: TestApp, id: string) => waitUntilSettled(service.baseUrl, id);

async function scrape(baseUrl: string): Promise<string> {
  const response = await request(baseUrl).get('/metrics').expect(200);
  expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return response.text;
}

describe('Prometheus metrics at /metrics', () => {
  let service: TestApp;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    service = await startTestApp();
  });

  afterAll(async () => {
    await Promise.all(processes.map((child) => child.stop('SIGKILL')));
    await service.close();
    await closeDatabase();
  });

  it('counts requests by route pattern, objects by state, operations by outcome, failures by code, and the queue', async () => {
    const completed = await submit(service, {
      identifier: uniqueIdentifier('metrics-ok'),
      operations: ['validate'],
      payload: [{ name: 'a' }],
    });
    const failed = await submit(service, {
      identifier: uniqueIdentifier('metrics-invalid'),
      operations: ['validate'],
      payload: { name: 1 },
      options: { validate: { json_schema: { type: 'object', properties: { name: { type: 'string' } } } } },
    });
    expect((await settled(service, completed.id)).state).toBe('completed');
    expect((await settled(service, failed.id)).state).toBe('failed');
    expect(await objectRow(failed.id)).toMatchObject({ state: 'failed', error_code: 'invalid_content' });
    await request(service.baseUrl).get('/no-such-route').expect(404);

    const metrics = await scrape(service.baseUrl);

    expect(
      sampleValue(metrics, 'http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/process', status_code: '202' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      sampleValue(metrics, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/api/v1/progress/:object_id',
        status_code: '200',
      }),
    ).toBeGreaterThanOrEqual(2);
    expect(sampleValue(metrics, 'http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
    // Route labels are patterns, never raw URLs: no object id makes a series of its own.
    const routes = samplesOf(metrics, 'http_request_duration_seconds_count').map((sample) => sample.labels.route);
    expect(routes.filter((route) => route!.includes(completed.id) || route!.includes(failed.id))).toEqual([]);

    expect(sampleValue(metrics, 'objects_current', { state: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(metrics, 'objects_current', { state: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(metrics, 'objects_current', { state: 'cancelled' })).toEqual(expect.any(Number));
    expect(
      sampleValue(metrics, 'operation_duration_seconds_count', { operation: 'validate', outcome: 'completed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sampleValue(metrics, 'operation_duration_seconds_count', { operation: 'validate', outcome: 'failed' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sampleValue(metrics, 'object_failures_total', { code: 'invalid_content' })).toBeGreaterThanOrEqual(1);
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      expect(sampleValue(metrics, 'queue_jobs', { state })).toEqual(expect.any(Number));
    }
    expect(sampleValue(metrics, 'process_cpu_user_seconds_total')).toEqual(expect.any(Number));
  });

  it('reports the wait of the oldest queued object, the workers on the queue, readiness and open progress streams', async () => {
    // An API alone, on a queue of its own: what it queues waits, since no worker takes it.
    const api = await startTestApp({ APP_ROLE: 'api' });
    try {
      const { id } = await submit(api, { identifier: uniqueIdentifier('metrics-waiting'), operations: ['validate'] });
      await request(api.baseUrl).get('/health/ready').expect(200);
      const stream = await openSse(`${api.baseUrl}/api/v1/progress/${id}/stream`);
      try {
        await waitFor(() => stream.events.length >= 1, { what: 'the first event of the stream' });
        const metrics = await scrape(api.baseUrl);
        expect(sampleValue(metrics, 'queue_oldest_waiting_seconds')).toBeGreaterThan(0);
        expect(sampleValue(metrics, 'queue_workers')).toBe(0);
        expect(sampleValue(metrics, 'health_ready')).toBe(1);
        expect(sampleValue(metrics, 'sse_connections')).toBe(1);
      } finally {
        stream.close();
      }
      await waitFor(async () => sampleValue(await scrape(api.baseUrl), 'sse_connections') === 0, {
        what: 'the stream to be counted closed',
      });
      // The application with a worker role has its worker on its queue.
      expect(sampleValue(await scrape(service.baseUrl), 'queue_workers')).toBeGreaterThanOrEqual(1);
    } finally {
      await api.close();
    }
  });

  it('names its own metrics by their type (only counters end in _total), and the README lists each with the name the service exposes', async () => {
    const metrics = await scrape(service.baseUrl);
    const types = new Map([...metrics.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name, type]));
    expect(types.get('objects_current')).toBe('gauge');
    // prom-client's default process metrics (nodejs_*, process_*) are not ours to name.
    const own = [...types].filter(([name]) => !/^(nodejs|process)_/.test(name!));
    expect(own.length).toBeGreaterThanOrEqual(6);
    expect(own.filter(([name, type]) => name!.endsWith('_total') && type !== 'counter')).toEqual([]);
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const documented = [...readme.matchAll(/^ {2}\| `([a-z_]+)` \|/gm)].map(([, name]) => name);
    expect(documented.length).toBeGreaterThanOrEqual(6);
    expect(documented.filter((name) => !types.has(name))).toEqual([]);
  });

  it('is not part of the OpenAPI document', async () => {
    const document = (await request(service.baseUrl).get('/docs/json').expect(200)).body as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/metrics'))).toEqual([]);
  });

  it('counts retries and failures after unexpected errors (S3 refusing) by operation and code', async () => {
    const proxy = await S3FaultProxy.start(process.env.S3_ENDPOINT!);
    const flaky = await startTestApp({
      S3_ENDPOINT: proxy.endpoint,
      JOB_ATTEMPTS: '2',
      JOB_BACKOFF_MS: '200',
      MAX_PARALLEL_WORKERS: '1',
    });
    try {
      const identifier = uniqueIdentifier('metrics-transient');
      proxy.fault = accessDeniedTo(identifier, 'transform');
      const { id } = await submit(flaky, { identifier, operations: ['transform'], payload: [{ n: 1 }] });
      expect(await objectRow((await settled(flaky, id)).id)).toMatchObject({ state: 'failed', error_code: 'operation_failed' });

      const metrics = await scrape(flaky.baseUrl);
      expect(sampleValue(metrics, 'job_retries_total', { operation: 'transform' })).toBe(1);
      expect(sampleValue(metrics, 'operation_duration_seconds_count', { operation: 'transform', outcome: 'retrying' })).toBe(1);
      expect(sampleValue(metrics, 'operation_duration_seconds_count', { operation: 'transform', outcome: 'failed' })).toBe(1);
      expect(sampleValue(metrics, 'operation_duration_seconds_count', { operation: 'validate', outcome: 'completed' })).toBe(1);
      expect(sampleValue(metrics, 'object_failures_total', { code: 'operation_failed' })).toBe(1);
    } finally {
      await flaky.close();
      await proxy.close();
    }
  });

  it('still answers when PostgreSQL is unreachable, leaving out only the gauge read from it', async () => {
    const proxy = await cuttableProxy(new URL(process.env.DATABASE_URL!));
    const broken = await startTestApp({ APP_ROLE: 'api', DATABASE_URL: proxy.url.toString() });
    try {
      expect(sampleValue(await scrape(broken.baseUrl), 'objects_current', { state: 'completed' })).toEqual(expect.any(Number));
      await proxy.cut();
      const metrics = await scrape(broken.baseUrl);
      expect(samplesOf(metrics, 'objects_current')).toEqual([]);
      expect(sampleValue(metrics, 'queue_jobs', { state: 'waiting' })).toEqual(expect.any(Number));
      expect(sampleValue(metrics, 'http_request_duration_seconds_count', { method: 'GET', route: '/metrics', status_code: '200' })).toBe(1);
    } finally {
      await broken.close();
    }
  });

  it('is served by a worker-only process on its probe port, next to the health probes', async () => {
    const api = await startTestApp({ APP_ROLE: 'api' });
    try {
      const port = await freePort();
      const worker = spawnService({ ...api.env, APP_ROLE: 'worker', PROBE_PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'log' });
      processes.push(worker);
      await worker.waitForOutput(/Running as role 'worker'/, 60_000);
      const probeUrl = `http://127.0.0.1:${port}`;
      await request(probeUrl).get('/health/live').expect(200);

      const { id } = await submit(api, { identifier: uniqueIdentifier('metrics-worker'), operations: ['validate'] });
      expect((await settled(api, id)).state).toBe('completed');
      // The worker logs the outcome right after recording it.
      await worker.waitForOutput(new RegExp(`Object ${id} \\(job [^)]+\\): completed`));

      const metrics = await scrape(probeUrl);
      expect(sampleValue(metrics, 'operation_duration_seconds_count', { operation: 'validate', outcome: 'completed' })).toBe(1);
      expect(sampleValue(metrics, 'objects_current', { state: 'completed' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(metrics, 'queue_jobs', { state: 'active' })).toEqual(expect.any(Number));
      expect(
        sampleValue(metrics, 'http_request_duration_seconds_count', { method: 'GET', route: '/health/live', status_code: '200' }),
      ).toBe(1);
      // The API process did not run the operation: its own metrics have no run of it.
      expect(
        sampleValue(await scrape(api.baseUrl), 'operation_duration_seconds_count', { operation: 'validate', outcome: 'completed' }),
      ).toBeUndefined();
      await request(probeUrl).get('/api/v1/status').expect(404);
    } finally {
      await api.close();
    }
  }, 120_000);
});
