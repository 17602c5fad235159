import { Redis } from 'ioredis';
import request from 'supertest';
import type { ProgressResponse } from '../src/objects/dto/object.responses';
import { ProgressFeeds } from '../src/processing/progress-feeds';
import { closeDatabase, query } from './support/database';
import { freePort, ServiceProcess, spawnService } from './support/service-process';
import { SseEvent, SseStream, openSse } from './support/sse';
import { TestApp, startTestApp, uniqueIdentifier, uniquePrefix } from './support/test-app';
import { waitFor } from './support/wait-for';

const dataEvents = (stream: SseStream): SseEvent[] => stream.events.filter((event) => event.comment === undefined);
const idsOf = (stream: SseStream) => dataEvents(stream).map((event) => Number(event.id));
const payloadOf = (event: SseEvent) => JSON.parse(event.data!) as ProgressResponse;

/** The sequence numbers of every change recorded for the object, in order. */
async function recordedSeqs(id: string): Promise<number[]> {
  return (await query<{ seq: number }>('select seq from object_events where object_id = $1 order by seq', [id])).map((row) => row.seq);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

async function ended(stream: SseStream, what: string): Promise<void> {
  await waitFor(
    async () => {
      await Promise.race([stream.ended, new Promise((resolve) => setTimeout(resolve, 200))]);
      return dataEvents(stream).length > 0 && ['completed', 'failed', 'cancelled'].includes(payloadOf(dataEvents(stream).at(-1)!).state);
    },
    { timeoutMs: 60_000, what },
  );
  await stream.ended;
}

describe('live progress: gap-free and resumable', () => {
  let service: TestApp;
  const streams: SseStream[] = [];
  const open = async (id: string, headers: Record<string, string> = {}) => {
    const stream = await openSse(`${service.baseUrl}/api/v1/progress/${id}/stream`, headers);
    streams.push(stream);
    return stream;
  };
  const submit = async (label: string, operations = ['export']) =>
    (
      await request(service.baseUrl)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier(label), operations })
        .expect(202)
    ).body as { id: string };

  beforeAll(async () => {
    // 200 subscribers from one address: over the default per-client stream cap (50).
    service = await startTestApp({ SIMULATED_OPERATION_DELAY_MS: '150', SSE_MAX_STREAMS_PER_CLIENT: '1000' });
  });

  afterAll(async () => {
    streams.forEach((stream) => stream.close());
    await Promise.all(streams.map((stream) => stream.ended.catch(() => undefined)));
    await service.close();
    await closeDatabase();
  });

  it('records every change with a contiguous sequence and streams each one, in order, once', async () => {
    const { id } = await submit('complete-run');
    const stream = await open(id);
    await ended(stream, 'the run to finish');

    const recorded = await recordedSeqs(id);
    expect(recorded).toEqual(range(recorded[0]!, recorded.at(-1)!));
    const ids = idsOf(stream);
    expect(ids).toEqual(range(ids[0]!, recorded.at(-1)!));
    expect(ids.slice(1).every((seq) => recorded.includes(seq))).toBe(true);

    const kinds = await query<{ kind: string; operation: string | null }>(
      'select kind, operation from object_events where object_id = $1 order by seq',
      [id],
    );
    for (const operation of ['validate', 'transform', 'enrich', 'analyze', 'export']) {
      expect(kinds).toContainEqual({ kind: 'operation_started', operation });
      expect(kinds).toContainEqual({ kind: 'operation_finished', operation });
    }
    expect(kinds.at(-1)).toEqual({ kind: 'state_changed', operation: null });
    expect(payloadOf(dataEvents(stream).at(-1)!)).toEqual((await request(service.baseUrl).get(`/api/v1/progress/${id}`)).body);
  });

  it('streams opened at any moment of a run miss nothing between their snapshot and the end', async () => {
    const { id } = await submit('late-joiners');
    const joiners: SseStream[] = [];
    for (let index = 0; index < 8; index++) {
      joiners.push(await open(id));
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
    await Promise.all(joiners.map((stream, index) => ended(stream, `joiner ${index} to finish`)));
    const last = (await recordedSeqs(id)).at(-1)!;
    for (const stream of joiners) {
      const ids = idsOf(stream);
      expect(ids).toEqual(range(ids[0]!, last));
    }
  });

  it('a client resuming with Last-Event-ID from the middle of a run gets every later event and none twice', async () => {
    const { id } = await submit('resume');
    const first = await open(id);
    await waitFor(() => idsOf(first).length >= 4, { what: 'a few events' });
    first.close();
    await first.ended;
    const seen = idsOf(first);

    const resumed = await open(id, { 'last-event-id': String(seen.at(-1)) });
    await ended(resumed, 'the resumed stream to finish');
    const all = [...seen, ...idsOf(resumed)];
    expect(all).toEqual(range(seen[0]!, (await recordedSeqs(id)).at(-1)!));
  });

  it('delivers every event to 200 concurrent subscribers of one object', async () => {
    const { id } = await submit('crowd', ['analyze']);
    const crowd = await Promise.all(Array.from({ length: 200 }, () => open(id)));
    await Promise.all(crowd.map((stream, index) => ended(stream, `subscriber ${index} to finish`)));
    const last = (await recordedSeqs(id)).at(-1)!;
    for (const stream of crowd) {
      const ids = idsOf(stream);
      expect(ids).toEqual(range(ids[0]!, last));
      expect(payloadOf(dataEvents(stream).at(-1)!).state).toBe('completed');
    }
  }, 120_000);

  it('releases a followed object once its clients disconnect', async () => {
    const feeds = service.app.get(ProgressFeeds);
    const redis = new Redis(service.config.redis.url);
    try {
      const listeners = async () =>
        Number(((await redis.pubsub('NUMSUB', `${service.config.redis.prefix}:object-changes`)) as [string, number])[1]);
      const { id } = await submit('leavers');
      const leavers = await Promise.all(Array.from({ length: 20 }, () => open(id)));
      await waitFor(() => leavers.every((stream) => idsOf(stream).length > 0), { what: 'every client to get its snapshot' });
      expect(feeds.size).toBe(1);
      expect(await listeners()).toBe(1);

      leavers.forEach((stream) => stream.close());
      await Promise.all(leavers.map((stream) => stream.ended));
      await waitFor(() => feeds.size === 0, { what: 'the feed to be released' });
      await waitFor(async () => (await listeners()) === 0, { what: 'the Redis subscription to be released' });
    } finally {
      redis.disconnect();
    }
  });
});

describe('live progress across processes', () => {
  const processes: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(processes.map((process) => process.stop()));
    await closeDatabase();
  });

  it('streams from API B an object submitted on API A and processed by a separate worker', async () => {
    const env = {
      ...(process.env as Record<string, string>),
      REDIS_PREFIX: uniquePrefix(),
      SIMULATED_OPERATION_DELAY_MS: '150',
      LOG_LEVEL: 'log',
    };
    const [portA, portB] = [await freePort(), await freePort()];
    const apiA = spawnService({ ...env, APP_ROLE: 'api', PORT: String(portA), HOST: '127.0.0.1' });
    const apiB = spawnService({ ...env, APP_ROLE: 'api', PORT: String(portB), HOST: '127.0.0.1' });
    const worker = spawnService({ ...env, APP_ROLE: 'worker' });
    processes.push(apiA, apiB, worker);
    await Promise.all([apiA.waitForOutput(/Listening on/), apiB.waitForOutput(/Listening on/), worker.waitForOutput(/Worker started/)]);

    const { id } = (
      await request(`http://127.0.0.1:${portA}`)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier('cross'), operations: ['analyze'] })
        .expect(202)
    ).body as { id: string };
    const stream = await openSse(`http://127.0.0.1:${portB}/api/v1/progress/${id}/stream`);
    try {
      await ended(stream, 'the stream on API B to finish');
      const ids = idsOf(stream);
      expect(ids).toEqual(range(ids[0]!, (await recordedSeqs(id)).at(-1)!));
      const operations = dataEvents(stream)
        .map((event) => payloadOf(event).current_operation)
        .filter(Boolean);
      expect([...new Set(operations)]).toEqual(['validate', 'transform', 'enrich', 'analyze']);
      await worker.waitForOutput(new RegExp(`Object ${id}`));
    } finally {
      stream.close();
    }
  }, 120_000);
});
