import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Subscription } from 'rxjs';
import { MetricsService } from '../metrics/metrics.service';
import { toProgressView } from '../objects/object.presenter';
import { isSettled } from '../objects/object-state';
import type { ObjectEventRecord } from '../objects/object-event.entity';
import { ProcessingObject } from '../objects/processing-object.entity';
import { ProgressFeeds } from './progress-feeds';

const HEARTBEAT_MS = 15_000;
const HEARTBEAT = ': heartbeat\n\n';
/** How long a client waits before it reconnects after an interruption (the SSE `retry:` field). */
export const RECONNECT_AFTER_MS = 1000;
/**
 * How much a client may leave unread before it is dropped: Node buffers what the socket does not take, and a
 * client that stops reading must not make the process hold its events without bound. Dropped, an EventSource
 * reconnects with the id of the last event it received, and misses nothing.
 */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;
/** The headers Nest's @Sse() sent, which this route replaces (one writer per response instead of a stream and operators per client). */
const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  Connection: 'keep-alive',
  'Cache-Control': 'private, no-cache, no-store, must-revalidate, max-age=0, no-transform',
  Pragma: 'no-cache',
  Expire: '0',
  'X-Accel-Buffering': 'no',
};

/**
 * The SSE frame of each live event, built once for all the clients that follow its object: a feed hands the
 * same record to every one of them, and the view depends only on the record and on the object's id, identifier
 * and plan, which never change.
 */
const frames = new WeakMap<ObjectEventRecord, string>();

function frameOf(object: ProcessingObject, event: ObjectEventRecord): string {
  let frame = frames.get(event);
  if (frame === undefined) {
    // JSON.stringify escapes line breaks, so the data is always one line.
    frame = `event: progress\nid: ${event.seq}\ndata: ${JSON.stringify(toProgressView({ ...object, ...event.snapshot }))}\n\n`;
    frames.set(event, frame);
  }
  return frame;
}

/**
 * Server-sent progress of one object, written straight to the response: the current snapshot (or, for a client
 * resuming with Last-Event-ID, every event it missed), then every recorded event, until the object settles.
 * Event ids are the object's versions, so a client never misses or repeats one.
 *
 * How a stream ends says what happened: it completes normally only after the event of a settled state.
 * Shutting down, or failing to follow the object, breaks the connection off instead, as a network failure
 * would, so that EventSource and generated clients reconnect (after `retry:`) and resume with
 * Last-Event-ID. A client that resumes after the last event of a settled object gets 204, the answer that
 * tells an EventSource to stop.
 */
@Injectable()
export class ProgressStream implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ProgressStream.name);
  /** Every open stream, with what ends it: for the heartbeat and the shutdown. */
  private readonly streams = new Map<ServerResponse, () => void>();
  private heartbeat?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    private readonly feeds: ProgressFeeds,
    private readonly metrics: MetricsService,
  ) {}

  /** Streams the progress of `object` (as just read) to `reply`. */
  stream(object: ProcessingObject, lastEventId: number | undefined, reply: FastifyReply): Promise<void> {
    const id = object.id;
    if (lastEventId !== undefined && lastEventId >= object.version && isSettled(object.state)) {
      void reply.code(204).send();
      return Promise.resolve();
    }
    if (reply.raw.destroyed || reply.request.raw.socket.destroyed) {
      // The client left while the object was read.
      return Promise.resolve();
    }
    // The response is this stream's from here on: Fastify sends nothing more (its onResponse hooks still run at the end).
    reply.hijack();
    const response = reply.raw;
    response.socket?.setKeepAlive(true);
    response.socket?.setNoDelay(true);
    response.socket?.setTimeout(0);
    response.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), ...SSE_HEADERS });
    // The reconnection delay, then the snapshot unless the client resumes.
    let opening = `retry: ${RECONNECT_AFTER_MS}\n\n`;
    if (lastEventId === undefined) {
      const snapshot: ObjectEventRecord = {
        seq: object.version,
        kind: 'state_changed',
        operation: object.currentOperation ?? null,
        snapshot: object,
      };
      opening += frameOf(object, snapshot);
    }
    response.write(opening);
    if ((lastEventId === undefined && isSettled(object.state)) || reply.request.method === 'HEAD') {
      response.end();
      return Promise.resolve();
    }
    if (this.stopping) {
      response.destroy();
      return Promise.resolve();
    }
    this.follow(id, object, lastEventId ?? object.version, response);
    return Promise.resolve();
  }

  /** Breaks every stream off: their clients reconnect to another instance, or to this one once it is back. */
  beforeApplicationShutdown(): void {
    this.stopping = true;
    for (const interrupt of this.streams.values()) {
      interrupt();
    }
  }

  /** Writes every event of the object after `afterSeq` to `response` until the object settles or the client leaves. */
  private follow(id: string, object: ProcessingObject, afterSeq: number, response: ServerResponse): void {
    // Closed by finish() or interrupt(); a feed subscription added once it is closed (the stream ended while subscribing) is dropped at once.
    const subscription = new Subscription();
    const finish = () => {
      subscription.unsubscribe();
      if (!response.writableEnded && !response.destroyed) {
        response.end();
      }
    };
    const interrupt = () => {
      subscription.unsubscribe();
      response.destroy();
    };
    this.streams.set(response, interrupt);
    const closeConnection = this.metrics.openSseConnection();
    this.startHeartbeat();
    // Both after the end and when the client leaves first: the feed is released either way.
    response.once('close', () => {
      closeConnection();
      subscription.unsubscribe();
      this.streams.delete(response);
      if (this.streams.size === 0) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
    });
    subscription.add(
      this.feeds.follow(id, afterSeq).subscribe({
        next: (event) => {
          this.write(response, frameOf(object, event));
          if (isSettled(event.snapshot.state)) {
            finish();
          }
        },
        error: (error: unknown) => {
          this.logger.error(`Progress stream of object ${id} interrupted: ${(error as Error).message}`);
          interrupt();
        },
        // A feed completes when its object is deleted: the client's reconnect is answered 404.
        complete: interrupt,
      }),
    );
  }

  private write(response: ServerResponse, chunk: string): void {
    if (response.writableEnded || response.destroyed) {
      return;
    }
    response.write(chunk);
    if (response.writableLength > MAX_UNREAD_BYTES) {
      this.logger.warn(`Dropping an event stream whose client is not reading: ${response.writableLength} bytes unread`);
      response.destroy();
    }
  }

  private startHeartbeat(): void {
    // One timer for all the streams of the process, rather than one per client.
    this.heartbeat ??= setInterval(() => {
      for (const response of this.streams.keys()) {
        this.write(response, HEARTBEAT);
      }
    }, HEARTBEAT_MS).unref();
  }
}
