import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { ObjectResponse } from '../src/objects/dto/object.responses';
import { closeDatabase } from './support/database';
import { OtlpReceiver, ReceivedSpan, startOtlpReceiver } from './support/otlp-receiver';
import { ServiceProcess, freePort, spawnService } from './support/service-process';
import { uniqueIdentifier, uniquePrefix } from './support/test-app';
import { waitFor } from './support/wait-for';

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CONSUMER = 5;

type LogLine = Record<string, unknown> & { level: string; msg?: string };

/**
 * The built service, API and worker in one process, exporting its traces over OTLP/HTTP (JSON) to a
 * receiver in this test, as it would to a collector.
 */
describe('tracing (OTLP export on)', () => {
  let receiver: OtlpReceiver;
  let service: ServiceProcess;
  let baseUrl: string;
  let stdout = '';

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const port = await freePort();
    service = spawnService({
      ...(process.env as Record<string, string>),
      REDIS_PREFIX: uniquePrefix(),
      APP_ROLE: 'all',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'ops-under-test',
    });
    service.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    baseUrl = `http://127.0.0.1:${port}`;
    await service.waitForOutput(/Listening on/, 60_000);
  }, 90_000);

  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
    await closeDatabase();
  });

  /** Submits an object, waits until it completed and its job's span has arrived; returns the object and its trace's spans. */
  async function processTraced(label: string, headers: Record<string, string> = {}, options: Record<string, unknown> = {}) {
    const submitted = await request(baseUrl)
      .post('/api/v1/process')
      .set(headers)
      .send({
        identifier: uniqueIdentifier(label),
        operations: ['validate', 'transform'],
        payload: [
          { name: 'a', value: 1 },
          { name: 'b', value: 2 },
        ],
        options,
      })
      .expect(202);
    const id = (submitted.body as { id: string }).id;
    const object = await waitFor(
      async () => {
        const body = (await request(baseUrl).get(`/api/v1/objects/${id}`).expect(200)).body as ObjectResponse;
        return body.state === 'completed' && body;
      },
      { timeoutMs: 60_000, what: 'the object to complete' },
    );
    const jobSpan = await waitFor(
      () => receiver.spans().find((span) => span.kind === SPAN_KIND_CONSUMER && span.attributes['object.id'] === id),
      {
        timeoutMs: 10_000,
        what: 'the span of the job',
      },
    );
    const trace = () => receiver.spans().filter((span) => span.traceId === jobSpan.traceId);
    // The operation process exports its spans in batches of its own: they may come after the job's.
    await waitFor(
      () => {
        const spans = trace();
        const operations = spans.filter((span) => span.name.startsWith('operation '));
        return (
          operations.length === object.plan.length &&
          operations.every((operation) => spans.some((span) => span.parentSpanId === operation.spanId && span.name === 'S3.PutObject'))
        );
      },
      { timeoutMs: 10_000, what: 'the S3 calls of every operation' },
    );
    return { object, requestId: submitted.headers['x-request-id'] as string, jobSpan, trace };
  }

  function ancestry(span: ReceivedSpan, spans: ReceivedSpan[]): ReceivedSpan[] {
    const parent = spans.find((candidate) => candidate.spanId === span.parentSpanId);
    return parent ? [parent, ...ancestry(parent, spans)] : [];
  }

  it('follows a submission in one trace: the POST, its job, every operation and the S3 and PostgreSQL calls of each', async () => {
    const { object, jobSpan, trace } = await processTraced('traced');
    const spans = trace();

    const post = spans.find((span) => span.kind === SPAN_KIND_SERVER && span.attributes['http.route'] === '/api/v1/process');
    expect(post).toMatchObject({
      name: 'POST /api/v1/process',
      parentSpanId: undefined,
      attributes: expect.objectContaining({ 'http.response.status_code': 202 }) as unknown,
    });
    expect(post!.resource).toMatchObject({ 'service.name': 'ops-under-test' });
    expect(ancestry(jobSpan, spans).at(-1)).toBe(post);
    expect(jobSpan).toMatchObject({
      name: 'process process-object',
      attributes: expect.objectContaining({
        'messaging.system': 'bullmq',
        'messaging.message.id': object.task_id,
        'job.attempt': 1,
        'job.outcome': 'completed',
      }) as unknown,
    });

    const servicePid = post!.resource['process.pid'];
    const operationSpans = spans.filter((span) => span.name.startsWith('operation '));
    expect(operationSpans.map((span) => span.attributes['operation.name'])).toEqual(object.plan);
    for (const operationSpan of operationSpans) {
      expect(operationSpan).toMatchObject({
        parentSpanId: jobSpan.spanId,
        attributes: expect.objectContaining({
          'object.id': object.id,
          'operation.attempt': 1,
          'operation.outcome': 'completed',
          'operation.bytes_in': object.source!.size,
          'operation.bytes_out': expect.any(Number) as unknown,
        }) as unknown,
      });
      expect(operationSpan.attributes['operation.bytes_out']).toBeGreaterThan(0);
      const children = spans.filter((span) => span.parentSpanId === operationSpan.spanId);
      // The operation's result goes to S3 from its operation process, a process of its own.
      const puts = children.filter((span) => span.name === 'S3.PutObject');
      expect(puts.length).toBeGreaterThanOrEqual(1);
      for (const put of puts) {
        expect(put.resource['process.pid']).not.toBe(servicePid);
        expect(put.attributes).toMatchObject({ 'rpc.service': 'S3', 'rpc.method': 'PutObject', 'http.response.status_code': 200 });
        // One span per S3 call: the HTTP request under it is not traced again.
        expect(spans.filter((span) => span.parentSpanId === put.spanId)).toEqual([]);
      }
      // Its state changes are written to PostgreSQL by the job: its end, in one statement with the next operation's start.
      expect(children.filter((span) => span.name.startsWith('pg.query')).length).toBeGreaterThanOrEqual(1);
    }
    const artifactsWritten = spans.filter(
      (span) => span.name === 'S3.PutObject' && operationSpans.some((operation) => operation.spanId === span.parentSpanId),
    );
    expect(artifactsWritten.length).toBeGreaterThanOrEqual(Object.keys(object.s3_artifacts).length);
  }, 120_000);

  it('continues the trace of an incoming traceparent header', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentSpanId = randomBytes(8).toString('hex');
    const { jobSpan, trace } = await processTraced('traced-parent', { traceparent: `00-${traceId}-${parentSpanId}-01` });

    expect(jobSpan.traceId).toBe(traceId);
    const spans = trace();
    const post = spans.find((span) => span.kind === SPAN_KIND_SERVER && span.attributes['http.route'] === '/api/v1/process');
    expect(post).toMatchObject({ traceId, parentSpanId });
    expect(spans.filter((span) => span.name.startsWith('operation ')).length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('has the S3 calls of operations run under a budget of their own, whose processes end after each run', async () => {
    const { object, trace } = await processTraced('traced-budget', {}, { budget: { memory_mb: 256 } });
    const spans = trace();
    const operations = spans.filter((span) => span.name.startsWith('operation '));
    expect(operations.map((span) => span.attributes['operation.name'])).toEqual(object.plan);
    // Each run had a process of its own, ended once the run was over: its spans were exported before it answered.
    const processes = new Set(
      spans
        .filter((span) => span.name === 'S3.PutObject' && operations.some((operation) => operation.spanId === span.parentSpanId))
        .map((span) => span.resource['process.pid']),
    );
    expect(processes.size).toBe(object.plan.length);
  }, 120_000);

  it('puts the trace and span ids on the log lines of a request and of its job, and the request id on the job lines', async () => {
    const { object, requestId, trace } = await processTraced('traced-logs', { 'x-request-id': `traced-${randomBytes(4).toString('hex')}` });
    await service.waitForOutput(new RegExp(`Object ${object.id} \\(job [^)]+\\): completed`));
    const spanIds = new Set(trace().map((span) => span.spanId));
    const traceId = trace()[0]!.traceId;
    const lines = stdout
      .split('\n')
      .filter((line) => line.includes(object.id) || line.includes(requestId))
      .map((line) => JSON.parse(line) as LogLine);

    const requestLine = lines.find((line) => line.msg === 'request completed' && line.reqId === requestId);
    expect(requestLine).toMatchObject({ trace_id: traceId, span_id: expect.any(String) as unknown });
    const jobLines = lines.filter((line) => line.objectId === object.id);
    // Started and finished, for each of the two operations, and the job's outcome.
    expect(jobLines.length).toBeGreaterThanOrEqual(5);
    for (const line of jobLines) {
      expect({ msg: line.msg, reqId: line.reqId, trace_id: line.trace_id, known_span: spanIds.has(line.span_id as string) }).toEqual({
        msg: line.msg,
        reqId: requestId,
        trace_id: traceId,
        known_span: true,
      });
    }
    // A line logged while an operation runs names the operation's span.
    const started = jobLines.find((line) => line.msg === 'transform: started (attempt 1)');
    expect(trace().find((span) => span.spanId === started?.span_id)?.name).toBe('operation transform');
  }, 120_000);
});

describe('tracing with no collector answering', () => {
  afterAll(async () => {
    await closeDatabase();
  });

  it('still serves and processes: spans that cannot be exported are dropped', async () => {
    // A port nothing listens on: every export is refused.
    const collectorPort = await freePort();
    const port = await freePort();
    const service = spawnService({
      ...(process.env as Record<string, string>),
      REDIS_PREFIX: uniquePrefix(),
      APP_ROLE: 'all',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'log',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    try {
      const baseUrl = `http://127.0.0.1:${port}`;
      await service.waitForOutput(/Listening on/, 60_000);
      const submitted = await request(baseUrl)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier('untraced'), operations: ['transform'], payload: [{ a: 1 }] })
        .expect(202);
      const object = await waitFor(
        async () => {
          const body = (
            await request(baseUrl)
              .get(`/api/v1/objects/${(submitted.body as { id: string }).id}`)
              .expect(200)
          ).body as ObjectResponse;
          return body.state !== 'queued' && body.state !== 'processing' && body;
        },
        { timeoutMs: 60_000, what: 'the object to settle' },
      );
      expect(object).toMatchObject({ state: 'completed', error_message: null });
      // Stopping does not wait for the collector long, and does not fail for it.
      expect(await service.stop()).toBe(0);
    } finally {
      await service.stop();
    }
  }, 120_000);
});
