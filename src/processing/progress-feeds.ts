import { Injectable } from '@nestjs/common';
import { Observable, concatMap, map, merge, share } from 'rxjs';
import { ObjectChange, ObjectNotifications } from '../notifications/object-notifications';
import type { ObjectEventRecord } from '../objects/object-event.entity';
import { ObjectEventsRepository } from '../objects/object-events.repository';

interface Feed {
  events$: Observable<ObjectEventRecord>;
  /** Resolves once the feed listens for changes and knows where the object's events stand. */
  ready: Promise<void>;
}

const LISTENING = Symbol('listening');

/**
 * What progress streams follow: each object's event log, past and live. The log is in PostgreSQL
 * (ObjectEventsRepository); change notifications (ObjectNotifications) say when to look. A process reads
 * each object's new events once per change, however many clients follow that object, and stops when the last one leaves.
 * A change that carries its event and follows the last one seen is passed on without reading;
 * any gap (a missed or reordered notification, a change without its event) is read from the database.
 */
@Injectable()
export class ProgressFeeds {
  private readonly feeds = new Map<string, Feed>();

  constructor(
    private readonly eventLog: ObjectEventsRepository,
    private readonly notifications: ObjectNotifications,
  ) {}

  /** Every event of the object after `afterSeq`, in order and once each: past ones first, then live ones. */
  follow(id: string, afterSeq: number): Observable<ObjectEventRecord> {
    return new Observable<ObjectEventRecord>((subscriber) => {
      const feed = this.feedOf(id);
      let last = afterSeq;
      let pending: ObjectEventRecord[] | null = [];
      const deliver = (event: ObjectEventRecord) => {
        if (event.seq > last) {
          last = event.seq;
          subscriber.next(event);
        }
      };
      const live = feed.events$.subscribe({
        next: (event) => (pending ? pending.push(event) : deliver(event)),
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      feed.ready
        .then(() => this.eventLog.eventsAfter(id, afterSeq))
        .then((past) => {
          past.forEach(deliver);
          pending?.forEach(deliver);
          pending = null;
        })
        .catch((error: unknown) => subscriber.error(error));
      return () => live.unsubscribe();
    });
  }

  /** How many objects this process follows now. */
  get size(): number {
    return this.feeds.size;
  }

  private feedOf(id: string): Feed {
    const existing = this.feeds.get(id);
    if (existing) {
      return existing;
    }
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    let last: number | undefined;
    const readNew = async (signal: typeof LISTENING | ObjectChange): Promise<ObjectEventRecord[] | null> => {
      if (signal === LISTENING) {
        last = await this.eventLog.currentVersion(id);
        markReady();
        return [];
      }
      if (last === undefined || signal.version <= last) {
        // Not listening yet (the clients read what came before themselves), or already read with an earlier change.
        return [];
      }
      if (signal.event?.seq === last + 1) {
        // The very next event, carried by the notification: nothing was missed, so there is nothing to read.
        last = signal.event.seq;
        return [signal.event];
      }
      const events = await this.eventLog.eventsAfter(id, last);
      const newest = events.at(-1);
      if (newest) {
        last = newest.seq;
        return events;
      }
      return (await this.eventLog.currentVersion(id)) > 0 ? [] : null;
    };
    const events$ = new Observable<ObjectEventRecord>((subscriber) => {
      const subscription = merge(
        this.notifications.changesOf(id),
        this.notifications.changesListening().pipe(map((): typeof LISTENING => LISTENING)),
      )
        .pipe(concatMap(readNew))
        .subscribe({
          next: (events) => (events === null ? subscriber.complete() : events.forEach((event) => subscriber.next(event))),
          error: (error: unknown) => subscriber.error(error),
        });
      return () => {
        subscription.unsubscribe();
        this.feeds.delete(id);
      };
    }).pipe(share());
    const feed = { events$, ready };
    this.feeds.set(id, feed);
    return feed;
  }
}
