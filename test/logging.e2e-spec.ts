import request from 'supertest';
import type { ProgressResponse } from '../src/objects/dto/object.responses';
import { withApiKeys } from '../src/access/key-store';
import { AppConfig } from '../src/config/app-config';
import { closeDatabase } from './support/database';
import { ServiceProcess, freePort, spawnService } from './support/service-process';
import { uniqueIdentifier, uniquePrefix } from './support/test-app';
import { waitFor } from './support/wait-for';
import type { components } from './support/api-types';

type LogLine = Record<string, unknown> & { level: string; msg?: string };

/** A service process (API and worker in one) with its stdout kept apart, one JSON document expected per line. */
async function startService(
  logLevel: string,
  extraEnv: Record<string, string> = {},
): Promise<{ service: ServiceProcess; baseUrl: string; lines: () => LogLine[]; stdout: () => string }> {
  const port = await freePort();
  const service = spawnService({
    ...(process.env as Record<string, string>),
    REDIS_PREFIX: uniquePrefix(),
    APP_ROLE: 'all',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: logLevel,
    ...extraEnv,
  });
  let stdout = '';
  service.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  await service.waitForOutput(/Listening on/, 60_000);
  return {
    service,
    baseUrl: `http://127.0.0.1:${port}`,
    stdout: () => stdout,
    lines: () =>
      stdout
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as LogLine),
  };
}

/** The id of the request that submitted each object, by object id. */
const submittedBy = new Map<string, string>();

async function processObject(baseUrl: string, label: string): Promise<{ id: string; task_id: string }> {
  const response = await request(baseUrl)
    .post('/api/v1/process')
    .send({ identifier: uniqueIdentifier(label), operations: ['transform'] })
    .expect(202);
  const submitted = response.body as { id: string; task_id: string };
  submittedBy.set(submitted.id, response.headers['x-request-id'] as string);
  await waitFor(
    async () =>
      ((await request(baseUrl).get(`/api/v1/progress/${submitted.id}`).expect(200)).body as ProgressResponse).state === 'completed',
    {
      timeoutMs: 60_000,
      what: 'the object to complete',
    },
  );
  return submitted;
}

describe('structured logs', () => {
  const processes: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(processes.map((service) => service.stop('SIGKILL')));
    await closeDatabase();
  });

  it('writes JSON lines: requests carry their request id, worker lines the object and job ids', async () => {
    const { service, baseUrl, lines, stdout } = await startService('log');
    processes.push(service);

    const submitted = await request(baseUrl)
      .post('/api/v1/process')
      .set('x-request-id', 'abc123')
      .set('authorization', 'Bearer do-not-log-this-token')
      .send({ identifier: uniqueIdentifier('logged'), operations: ['validate'] })
      .expect(202);
    expect(submitted.headers['x-request-id']).toBe('abc123');
    const { id, task_id: taskId } = submitted.body as { id: string; task_id: string };
    await waitFor(
      async () => ((await request(baseUrl).get(`/api/v1/progress/${id}`).expect(200)).body as ProgressResponse).state === 'completed',
      {
        timeoutMs: 60_000,
        what: 'the object to complete',
      },
    );
    await request(baseUrl).get('/health/live').expect(200);
    await request(baseUrl).get('/metrics').expect(200);
    await service.waitForOutput(new RegExp(`Object ${id} \\(job ${taskId.replace('.', '\\.')}\\): completed`));

    const logged = lines();
    expect(logged.find((line) => line.msg?.startsWith('Listening on'))).toMatchObject({ level: 'info', context: 'Bootstrap', role: 'all' });
    expect(logged.filter((line) => line.reqId === 'abc123')).toContainEqual(
      expect.objectContaining({
        level: 'info',
        msg: 'request completed',
        req: { id: 'abc123', method: 'POST', url: '/api/v1/process' },
        res: { statusCode: 202 },
        responseTime: expect.any(Number) as unknown,
      }),
    );
    expect(stdout()).not.toContain('do-not-log-this-token');
    // Probes and scrapes are not logged line by line.
    const requestUrls = logged.map((line) => (line.req as { url?: string } | undefined)?.url).filter(Boolean);
    expect(requestUrls).toContain('/api/v1/process');
    expect(requestUrls.filter((url) => /^\/(health|metrics)/.test(url!))).toEqual([]);

    const outcome = logged.find((line) => line.msg === `Object ${id} (job ${taskId}): completed`);
    // A job's lines name the request that queued it.
    expect(outcome).toMatchObject({ level: 'info', context: 'ObjectJobsProcessor', objectId: id, jobId: taskId, reqId: 'abc123' });
    // Tracing is off (no OTEL_EXPORTER_OTLP_ENDPOINT): no line carries a trace id.
    expect(logged.filter((line) => 'trace_id' in line || 'span_id' in line)).toEqual([]);
    expect(logged.filter((line) => line.level === 'debug')).toEqual([]);
  }, 120_000);

  it('names the key and team of every request that came with a key, and never logs the key itself', async () => {
    const team = `logged-${uniquePrefix().slice(-8)}`;
    const { key, secret } = await withApiKeys(new AppConfig(process.env), (apiKeys) =>
      apiKeys.create({ name: 'logged', team, scopes: ['read', 'write'] }),
    );
    const { service, baseUrl, lines, stdout } = await startService('log', { AUTH_REQUIRED: 'true' });
    try {
      const submitted = await request(baseUrl)
        .post('/api/v1/process')
        .set('authorization', `Bearer ${secret}`)
        .send({ identifier: uniqueIdentifier('logged'), operations: ['validate'] })
        .expect(202);
      const submittedId = (submitted.body as components['schemas']['SubmissionResponseDto']).id;
      await request(baseUrl).post(`/api/v1/objects/${submittedId}/cancel`).set('authorization', `Bearer ${secret}`);
      await request(baseUrl).delete(`/api/v1/objects/${submittedId}`).expect(401);
      const token = (
        (await request(baseUrl).post(`/api/v1/progress/${submittedId}/stream-token`).set('authorization', `Bearer ${secret}`).expect(201))
          .body as components['schemas']['StreamTokenResponse']
      ).token;
      await request(baseUrl).get(`/api/v1/progress/${submittedId}?access_token=${token}`).expect(401);
      const requestLines = await waitFor(
        () => {
          const found = lines().filter(
            (line) => line.msg === 'request completed' && (line.req as { url?: string } | undefined)?.url?.startsWith('/api/v1/'),
          );
          return found.length >= 5 && found;
        },
        { timeoutMs: 10_000, what: 'five request lines' },
      );
      const byMethod = requestLines.map((line) => ({
        method: (line.req as { method: string }).method,
        key_id: line.key_id,
        team: line.team,
      }));
      expect(byMethod).toEqual([
        { method: 'POST', key_id: key.id, team },
        { method: 'POST', key_id: key.id, team },
        { method: 'DELETE', key_id: undefined, team: undefined },
        { method: 'POST', key_id: key.id, team },
        { method: 'GET', key_id: key.id, team },
      ]);
      expect((requestLines[4]!.req as { url: string }).url).toBe(`/api/v1/progress/${submittedId}?access_token=[redacted]`);
      expect(stdout()).not.toContain(secret.slice(-43));
      expect(stdout()).not.toContain(token);
    } finally {
      await service.stop();
    }
  });

  it('puts the object and job ids, and the id of the request that queued the job, on every line logged while handling it, from every class', async () => {
    const { service, baseUrl, lines } = await startService('debug');
    processes.push(service);

    const first = await processObject(baseUrl, 'logged-debug-1');
    const second = await processObject(baseUrl, 'logged-debug-2');
    await service.waitForOutput(new RegExp(`Object ${second.id} \\(job [^)]+\\): completed`));

    const logged = lines();
    for (const { id, task_id: taskId } of [first, second]) {
      const mentioning = logged.filter((line) => line.msg?.includes(id) || line.objectId === id);
      const fromProcessor = logged.filter((line) => line.context === 'PlanRunner' && line.objectId === id);
      expect(fromProcessor.map((line) => line.msg)).toEqual([
        'validate: started (attempt 1)',
        expect.stringMatching(/^validate: completed in \d+ ms$/),
        'transform: started (attempt 1)',
        expect.stringMatching(/^transform: completed in \d+ ms$/),
      ]);
      expect(mentioning.length).toBeGreaterThan(fromProcessor.length);
      const requestId = submittedBy.get(id);
      // Lines of the requests (which carry a reqId but no objectId) aside, every line is the job's, with the request that queued it.
      for (const line of mentioning.filter(
        (candidate) => candidate.context !== undefined && (candidate.reqId === undefined || candidate.objectId !== undefined),
      )) {
        expect({ msg: line.msg, objectId: line.objectId, jobId: line.jobId, reqId: line.reqId, level: line.level }).toEqual({
          msg: line.msg,
          objectId: id,
          jobId: taskId,
          reqId: requestId,
          level: line.level,
        });
      }
    }
    // Lines of one job never carry another's ids.
    expect(logged.filter((line) => line.objectId === first.id && line.jobId !== first.task_id)).toEqual([]);
  }, 120_000);
});
