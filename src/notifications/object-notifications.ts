import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Observable, Subject, Subscriber, defer, filter, from, ignoreElements, map, share, tap } from 'rxjs';
import type { ObjectEventRecord } from '../objects/object-event.entity';
import { RedisService } from '../redis/redis.service';

export interface ObjectChange {
  id: string;
  version: number;
  /**
   * The event recorded for this version, when the publisher has it: a listener that has every earlier event
   * can pass it on without reading it back from the database.
   */
  event?: ObjectEventRecord;
  /** When the change was published (ms since the epoch), set by publishChange: lets a listener measure its delay (bench/scenarios/live.js). */
  at?: number;
}

const CHANGES = 'object-changes';
const CANCELLATIONS = 'object-cancellations';

/**
 * Cross-process notifications about objects, over Redis pub/sub: that an object changed (with the event
 * its change recorded, when the publisher has it) and that a cancellation was requested. Best-effort and
 * not durable; the object's event log (object_events) is what a listener relies on. Each process holds one
 * subscription per channel, shared by all its listeners, and only while someone listens.
 */
@Injectable()
export class ObjectNotifications implements OnApplicationShutdown {
  private readonly logger = new Logger(ObjectNotifications.name);
  private readonly messages = new Subject<{ channel: string; message: string }>();
  private attached = false;
  private readonly subscriptions = new Map<string, Promise<unknown>>();
  readonly changes$: Observable<ObjectChange>;
  readonly cancellations$: Observable<string>;
  /** The listeners of each object's changes: a change costs one lookup, however many objects the process follows. */
  private readonly listeners = new Map<string, Set<Subscriber<ObjectChange>>>();
  /** Hands each change to the listeners of its object; subscribed while anyone listens. */
  private readonly routing$: Observable<never>;

  constructor(private readonly redis: RedisService) {
    this.changes$ = this.channel(CHANGES).pipe(
      map((message) => JSON.parse(message) as ObjectChange),
      share(),
    );
    this.cancellations$ = this.channel(CANCELLATIONS).pipe(share());
    this.routing$ = this.changes$.pipe(
      tap((change) => this.listeners.get(change.id)?.forEach((listener) => listener.next(change))),
      ignoreElements(),
      share(),
    );
  }

  changesOf(id: string): Observable<ObjectChange> {
    return new Observable<ObjectChange>((subscriber) => {
      let listeners = this.listeners.get(id);
      if (!listeners) {
        this.listeners.set(id, (listeners = new Set()));
      }
      listeners.add(subscriber);
      const routing = this.routing$.subscribe({
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        routing.unsubscribe();
        listeners.delete(subscriber);
        if (listeners.size === 0 && this.listeners.get(id) === listeners) {
          this.listeners.delete(id);
        }
      };
    });
  }

  /** Emits once the change channel is subscribed in Redis; subscribe to changes first. */
  changesListening(): Observable<unknown> {
    return defer(() => from(this.subscriptions.get(this.redis.key(CHANGES)) ?? Promise.resolve()));
  }

  /**
   * Publishes the changes events record, each with its event so listeners need not read it back; the events
   * of one statement go in one round trip, in order.
   */
  async publishRecorded(id: string, ...events: ObjectEventRecord[]): Promise<void> {
    await this.publishChanges(events.map((event) => ({ id, version: event.seq, event })));
  }

  async publishChange(change: ObjectChange): Promise<void> {
    await this.publishChanges([change]);
  }

  private async publishChanges(changes: ObjectChange[]): Promise<void> {
    const at = Date.now();
    const messages = changes.map((change) => JSON.stringify({ ...change, at }));
    const [only, ...more] = messages;
    if (only !== undefined && more.length === 0) {
      await this.publish(CHANGES, only);
      return;
    }
    const channel = this.redis.key(CHANGES);
    try {
      const pipeline = this.redis.client.pipeline();
      messages.forEach((message) => pipeline.publish(channel, message));
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error);
      if (failed) {
        throw failed[0] as Error;
      }
    } catch (error) {
      this.logger.warn(`Could not publish on ${CHANGES}: ${(error as Error).message}`);
    }
  }

  async requestCancellation(objectId: string): Promise<void> {
    await this.publish(CANCELLATIONS, objectId);
  }

  private async publish(channel: string, message: string): Promise<void> {
    try {
      await this.redis.client.publish(this.redis.key(channel), message);
    } catch (error) {
      this.logger.warn(`Could not publish on ${channel}: ${(error as Error).message}`);
    }
  }

  private channel(name: string): Observable<string> {
    const fullName = this.redis.key(name);
    return new Observable<string>((subscriber) => {
      this.attach();
      this.subscriptions.set(
        fullName,
        this.redis.subscriber
          .subscribe(fullName)
          .catch((error: unknown) =>
            this.logger.error(`Subscribing to ${fullName} failed; listeners in this process get no live changes on it: ${String(error)}`),
          ),
      );
      const subscription = this.messages
        .pipe(
          filter((event) => event.channel === fullName),
          map((event) => event.message),
        )
        .subscribe(subscriber);
      return () => {
        subscription.unsubscribe();
        this.subscriptions.delete(fullName);
        void this.redis.subscriber
          .unsubscribe(fullName)
          .catch((error: unknown) => this.logger.warn(`Unsubscribing from ${fullName} failed: ${String(error)}`));
      };
    });
  }

  private attach(): void {
    if (!this.attached) {
      this.attached = true;
      this.redis.subscriber.on('message', (channel: string, message: string) => this.messages.next({ channel, message }));
    }
  }

  onApplicationShutdown(): void {
    this.messages.complete();
  }
}
