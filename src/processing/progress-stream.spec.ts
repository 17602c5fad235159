import { EventEmitter } from 'node:events';
import { Subject } from 'rxjs';
import type { FastifyReply } from 'fastify';
import { MetricsService } from '../metrics/metrics.service';
import type { ObjectEventRecord } from '../objects/object-event.entity';
import type { ObjectsRepository } from '../objects/objects.repository';
import type { ProcessingQueue } from '../queue/processing-queue';
import type { ProcessingObject } from '../objects/processing-object.entity';
import type { ProgressFeeds } from './progress-feeds';
import { ProgressStream } from './progress-stream';

const ID = '00000000-0000-4000-8000-000000000001';
const object = {
  id: ID,
  identifier: 'order-1',
  plan: ['validate'],
  state: 'queued',
  currentOperation: null,
  progress: { current: 0, total: 1 },
  operationsStatus: {},
  s3Artifacts: {},
  errorMessage: null,
  version: 1,
};
const event = (seq: number, state: string): ObjectEventRecord =>
  ({ seq, kind: 'state_changed', operation: null, snapshot: { ...object, state } }) as unknown as ObjectEventRecord;

/** What a raw response needs here: what was written, whether it ended, and how much is left unread. */
class FakeResponse extends EventEmitter {
  readonly chunks: string[] = [];
  headers: Record<string, unknown> = {};
  writableEnded = false;
  destroyed = false;
  writableLength = 0;
  writeHead(_status: number, headers: Record<string, unknown>) {
    this.headers = headers;
  }
  write(chunk: string) {
    this.chunks.push(chunk);
    return true;
  }
  end() {
    this.writableEnded = true;
    this.emit('close');
  }
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
}

function setUp() {
  const events = new Subject<ObjectEventRecord>();
  const feeds = { follow: () => events.asObservable() } as unknown as ProgressFeeds;
  // Its gauges read from PostgreSQL and Redis only when scraped, which these tests do not do.
  const metrics = new MetricsService({} as ObjectsRepository, {} as ProcessingQueue);
  const stream = new ProgressStream(feeds, metrics);
  const openConnections = async () => (await metrics.registry.getSingleMetric('sse_connections')!.get()).values[0]!.value;
  const open = async () => {
    const response = new FakeResponse();
    const reply = {
      raw: response,
      request: { method: 'GET', raw: { socket: { destroyed: false } } },
      hijack: () => undefined,
      getHeaders: () => ({ 'x-request-id': 'r1' }),
    } as unknown as FastifyReply;
    await stream.stream({ ...object } as unknown as ProcessingObject, undefined, reply);
    return response;
  };
  return { events, stream, open, openConnections };
}

describe('ProgressStream', () => {
  it('writes one frame string per event to every client of the object, and ends the streams when it settles', async () => {
    const { events, open, openConnections } = setUp();
    const [first, second] = [await open(), await open()];
    expect(await openConnections()).toBe(2);
    expect(first.headers).toMatchObject({ 'x-request-id': 'r1', 'Content-Type': 'text/event-stream', 'X-Accel-Buffering': 'no' });
    expect(first.chunks[0]).toMatch(/^retry: 1000\n\nevent: progress\nid: 1\ndata: \{"id":"[^\n]*\}\n\n$/);

    events.next(event(2, 'processing'));
    events.next(event(3, 'completed'));
    expect(first.chunks.slice(1)).toEqual([expect.stringContaining('id: 2\n'), expect.stringContaining('id: 3\n')]);
    expect(second.chunks.slice(1)).toEqual(first.chunks.slice(1));
    expect(second.chunks[1]).toBe(first.chunks[1]);
    expect([first.writableEnded, second.writableEnded]).toEqual([true, true]);
    expect([first.destroyed, second.destroyed]).toEqual([false, false]);
    expect(events.observed).toBe(false);
    expect(await openConnections()).toBe(0);
  });

  it('breaks the stream off, rather than completing it, when following the object fails', async () => {
    const { events, open } = setUp();
    const response = await open();
    events.error(new Error('connection lost'));
    expect(response).toMatchObject({ destroyed: true, writableEnded: false });
  });

  it('drops a client that leaves more than 4 MiB unread and releases its feed, and breaks every stream off on shutdown', async () => {
    const { events, stream, open, openConnections } = setUp();
    const [slow, fast] = [await open(), await open()];
    slow.writableLength = 5 * 1024 * 1024;
    events.next(event(2, 'processing'));
    expect(slow.destroyed).toBe(true);
    expect(fast.destroyed).toBe(false);
    expect(await openConnections()).toBe(1);

    stream.beforeApplicationShutdown();
    // Broken off, not completed: clients take it for an interruption and reconnect.
    expect(fast).toMatchObject({ destroyed: true, writableEnded: false });
    expect(events.observed).toBe(false);
    expect(await open()).toMatchObject({ destroyed: true, writableEnded: false });
  });
});
