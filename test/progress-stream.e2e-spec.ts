import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { ProgressResponse } from '../src/objects/dto/object.responses';
import { closeDatabase } from './support/database';
import { SseEvent, SseStream, openSse } from './support/sse';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

const FULL_PLAN = ['validate', 'transform', 'enrich', 'analyze'];
const PROGRESS_KEYS = ['current_operation', 'error_message', 'id', 'identifier', 'operations_status', 'progress', 's3_artifacts', 'state'];
const STATE_ORDER = ['pending', 'queued', 'processing', 'completed'];

/** Resolves with `promise`, or fails naming `what` when it takes longer than `timeoutMs`. */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The events that carry data (heartbeat comments left out). */
const dataEvents = (stream: SseStream): SseEvent[] => stream.events.filter((event) => event.comment === undefined);
const payloadOf = (event: SseEvent) => JSON.parse(event.data!) as ProgressResponse;

function distinctOperations(events: SseEvent[]): string[] {
  const operations: string[] = [];
  for (const event of events) {
    const operation = payloadOf(event).current_operation;
    if (operation && operations[operations.length - 1] !== operation) {
      operations.push(operation);
    }
  }
  return operations;
}

function expectIncreasingIntegerIds(events: SseEvent[]): void {
  for (const event of events) {
    expect(event.id).toMatch(/^\d+$/);
  }
  const ids = events.map((event) => Number(event.id));
  for (let index = 1; index < ids.length; index++) {
    expect(ids[index]).toBeGreaterThan(ids[index - 1]!);
  }
}

describe('live progress over server-sent events', () => {
  let service: TestApp;
  let redis: Redis;
  const streams: SseStream[] = [];

  beforeAll(async () => {
    service = await startTestApp({ SIMULATED_OPERATION_DELAY_MS: '300' });
    redis = new Redis(service.config.redis.url);
  });

  afterAll(async () => {
    streams.forEach((stream) => stream.close());
    await Promise.all(streams.map((stream) => stream.ended.catch(() => undefined)));
    redis?.disconnect();
    await service?.close();
    await closeDatabase();
  });

  const streamUrl = (id: string) => `${service.baseUrl}/api/v1/progress/${id}/stream`;

  async function open(id: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const stream = await openSse(streamUrl(id), headers);
    streams.push(stream);
    return stream;
  }

  async function submit(label: string): Promise<{ id: string; identifier: string }> {
    return (
      await request(service.baseUrl)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier(label), operations: ['analyze'] })
        .expect(202)
    ).body as { id: string; identifier: string };
  }

  async function progressOf(id: string): Promise<ProgressResponse> {
    return (await request(service.baseUrl).get(`/api/v1/progress/${id}`).expect(200)).body as ProgressResponse;
  }

  describe('before the stream opens', () => {
    it('answers an unknown object with a 404 JSON error, not a stream', async () => {
      const response = await fetch(streamUrl(randomUUID()), { headers: { accept: 'text/event-stream' } });
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: expect.any(String) as unknown,
        code: 'object_not_found',
      });
    });

    it('answers a malformed id with 400', async () => {
      const response = await fetch(streamUrl('not-a-uuid'), { headers: { accept: 'text/event-stream' } });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toMatchObject({ statusCode: 400, code: 'validation_failed' });
    });
  });

  it('opens with the event-stream headers and the request id, then sends the snapshot frame', async () => {
    const { id } = await submit('sse-headers');
    const controller = new AbortController();
    const response = await fetch(streamUrl(id), {
      headers: { accept: 'text/event-stream', 'x-request-id': 'sse-headers-1' },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('cache-control')).toBe('private, no-cache, no-store, must-revalidate, max-age=0, no-transform');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('x-request-id')).toBe('sse-headers-1');
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of response.body!) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        if (/\ndata: .*\n\n/.test(text)) {
          break;
        }
      }
    } finally {
      controller.abort();
    }
    expect(text).toMatch(/^retry: 1000\n\nevent: progress\nid: \d+\ndata: \{"id":".*\}\n\n/);
  });

  describe('a whole run', () => {
    let object: { id: string; identifier: string };
    let run: SseStream;
    let events: SseEvent[];

    beforeAll(async () => {
      object = await submit('sse-run');
      run = await open(object.id);
      expect(await within(run.ended, 45_000, 'the stream to end after the object settles')).toBe('completed');
      events = dataEvents(run);
    });

    it('opens as an event stream and sends only progress events with increasing integer ids', () => {
      expect(run.status).toBe(200);
      expect(events.length).toBeGreaterThanOrEqual(1 + FULL_PLAN.length);
      expect(events.every((event) => event.event === 'progress')).toBe(true);
      expectIncreasingIntegerIds(events);
    });

    it('starts with the current snapshot and carries the progress endpoint shape in every event', () => {
      const first = payloadOf(events[0]!);
      expect(['queued', 'processing']).toContain(first.state);
      expect(first.progress.total).toBe(FULL_PLAN.length);
      for (const event of events) {
        const progress = payloadOf(event);
        expect(Object.keys(progress).sort()).toEqual(PROGRESS_KEYS);
        expect(progress).toMatchObject({ id: object.id, identifier: object.identifier });
        expect(Object.keys(progress.operations_status)).toEqual(FULL_PLAN);
        expect(progress.progress.current).toBe(Object.values(progress.operations_status).filter((status) => status.completed).length);
      }
    });

    it('moves forward through the states and shows every operation running, in order', () => {
      const ranks = events.map((event) => STATE_ORDER.indexOf(payloadOf(event).state));
      expect(ranks.every((rank) => rank >= 0)).toBe(true);
      expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
      expect(events.some((event) => payloadOf(event).state === 'processing')).toBe(true);
      expect(distinctOperations(events)).toEqual(FULL_PLAN);
      const counts = events.map((event) => payloadOf(event).progress.current);
      expect([...counts].sort((a, b) => a - b)).toEqual(counts);
    });

    it('ends with the completed object, exactly as the progress endpoint shows it, then closes', async () => {
      const last = payloadOf(events[events.length - 1]!);
      expect(last.state).toBe('completed');
      expect(events.filter((event) => payloadOf(event).state === 'completed')).toHaveLength(1);
      expect(last).toEqual(await progressOf(object.id));
    });

    it('sends a settled object once and closes', async () => {
      const again = await open(object.id);
      await within(again.ended, 15_000, 'the stream of a completed object to end');
      const sent = dataEvents(again);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ event: 'progress', id: events[events.length - 1]!.id });
      expect(payloadOf(sent[0]!)).toEqual(await progressOf(object.id));
    });

    it('resumes after Last-Event-ID without repeating what the client saw', async () => {
      const middle = events[Math.floor(events.length / 2)];
      const resumed = await open(object.id, { 'last-event-id': middle!.id! });
      await within(resumed.ended, 15_000, 'the resumed stream to end');
      const sent = dataEvents(resumed);
      expect(sent.length).toBeGreaterThanOrEqual(1);
      expect(sent.every((event) => Number(event.id) > Number(middle!.id))).toBe(true);
      expect(payloadOf(sent[sent.length - 1]!).state).toBe('completed');
    });

    it('answers 204 No Content, which makes an EventSource stop, to a client that already saw the final event', async () => {
      const final = events[events.length - 1];
      const response = await request(service.baseUrl)
        .get(`/api/v1/progress/${object.id}/stream`)
        .set('last-event-id', final!.id!)
        .expect(204);
      expect(response.text).toBe('');
      const resumed = await open(object.id, { 'last-event-id': final!.id! });
      expect(resumed.status).toBe(204);
      expect(await within(resumed.ended, 15_000, 'the answer to a client that saw the final event')).toBe('completed');
      expect(dataEvents(resumed)).toEqual([]);
    });
  });

  it('closes after the object fails, with the failure in the last event', async () => {
    const submitted = await request(service.baseUrl)
      .post('/api/v1/process')
      .send({
        identifier: uniqueIdentifier('sse-fails'),
        operations: ['analyze'],
        payload: { count: 'three' },
        options: { validate: { json_schema: { type: 'object', properties: { count: { type: 'integer' } } } } },
      })
      .expect(202);
    const stream = await open((submitted.body as { id: string }).id);
    await within(stream.ended, 30_000, 'the stream of a failing object to end');
    const last = payloadOf(dataEvents(stream).at(-1)!);
    expect(last.state).toBe('failed');
    expect(last.error_message).toContain('/count');
  });

  it('a client that reconnects mid-run with Last-Event-ID misses no operation and sees nothing twice', async () => {
    const { id } = await submit('sse-reconnect');
    const first = await open(id);
    await waitFor(() => distinctOperations(dataEvents(first)).includes('transform'), { timeoutMs: 30_000, what: 'transform to start' });
    first.close();
    await first.ended;
    const seen = dataEvents(first);
    const lastSeen = seen[seen.length - 1];
    expect(payloadOf(lastSeen!).state).toBe('processing');

    const second = await open(id, { 'last-event-id': lastSeen!.id! });
    await within(second.ended, 45_000, 'the resumed stream to end');
    const rest = dataEvents(second);
    expect(rest.length).toBeGreaterThanOrEqual(1);
    expect(rest.every((event) => Number(event.id) > Number(lastSeen!.id))).toBe(true);
    expectIncreasingIntegerIds([...seen, ...rest]);
    expect(distinctOperations([...seen, ...rest])).toEqual(FULL_PLAN);
    expect(payloadOf(rest[rest.length - 1]!)).toEqual(await progressOf(id));
    expect(payloadOf(rest[rest.length - 1]!).state).toBe('completed');
  });

  describe('clients that disconnect', () => {
    let slow: TestApp;

    beforeAll(async () => {
      slow = await startTestApp({ SIMULATED_OPERATION_DELAY_MS: '2000' });
    });

    afterAll(async () => {
      await slow?.close();
    });

    /** How many Redis connections listen to the slow app's change notifications. */
    async function slowChangeListeners(): Promise<number> {
      const [, count] = (await redis.pubsub('NUMSUB', `${slow.config.redis.prefix}:object-changes`)) as [string, number];
      return Number(count);
    }

    it('release what they held when they leave early, and the server carries on', async () => {
      const { id } = (
        await request(slow.baseUrl)
          .post('/api/v1/process')
          .send({ identifier: uniqueIdentifier('sse-leave'), operations: ['analyze'] })
          .expect(202)
      ).body as { id: string };
      const url = `${slow.baseUrl}/api/v1/progress/${id}/stream`;
      const early = await Promise.all([openSse(url), openSse(url), openSse(url)]);
      streams.push(...early);
      await waitFor(() => early.every((stream) => dataEvents(stream).length >= 1), { what: 'the first event on every stream' });
      expect(await slowChangeListeners()).toBe(1);

      early.forEach((stream) => stream.close());
      await Promise.all(early.map((stream) => stream.ended));
      await waitFor(async () => (await slowChangeListeners()) === 0, { timeoutMs: 10_000, what: 'the change listener to be released' });

      const progress = (await request(slow.baseUrl).get(`/api/v1/progress/${id}`).expect(200)).body as ProgressResponse;
      expect(['queued', 'processing']).toContain(progress.state);
      const late = await openSse(url);
      streams.push(late);
      await waitFor(() => dataEvents(late).length >= 1, { what: 'the first event of a later stream' });
      expect(await slowChangeListeners()).toBe(1);
      await request(slow.baseUrl).post(`/api/v1/objects/${id}/cancel`).expect(200);
      await within(late.ended, 15_000, 'the later stream to end after the cancel');
      const sent = dataEvents(late);
      expect(payloadOf(sent[sent.length - 1]!)).toMatchObject({ id, state: 'cancelled', current_operation: null });
      await waitFor(async () => (await slowChangeListeners()) === 0, {
        timeoutMs: 10_000,
        what: 'the change listener to be released after the stream ended',
      });
    });
  });
});
