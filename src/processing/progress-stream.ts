import { BeforeApplicationShutdown, Injectable, MessageEvent } from '@nestjs/common';
import { EMPTY, Observable, Subject, concat, endWith, ignoreElements, interval, map, merge, of, share, takeUntil, takeWhile } from 'rxjs';
import { toProgressView } from '../objects/object.presenter';
import { isSettled } from '../objects/object-state';
import { ObjectEventRecord, ObjectsRepository } from '../objects/objects.repository';
import { ObjectEventFeeds } from './object-event-feeds';

const HEARTBEAT_MS = 15_000;

/**
 * The data of each live event, serialized once for all the clients that follow its object: a feed hands the
 * same record to every one of them, and the view depends only on the record and on the object's id, identifier
 * and plan, which never change.
 */
const serialized = new WeakMap<ObjectEventRecord, string>();

/**
 * Server-sent progress of one object: the current snapshot (or, for a client resuming with
 * Last-Event-ID, every event it missed), then every recorded event, until the object settles.
 * Event ids are the object's versions, so a client never misses or repeats one.
 */
@Injectable()
export class ProgressStream implements BeforeApplicationShutdown {
  private readonly shutdown$ = new Subject<void>();

  constructor(
    private readonly objects: ObjectsRepository,
    private readonly feeds: ObjectEventFeeds,
  ) {}

  async open(id: string, lastEventId: number | undefined): Promise<Observable<MessageEvent>> {
    const object = await this.objects.getById(id);
    if (lastEventId !== undefined && lastEventId >= object.version && isSettled(object.state)) {
      return EMPTY;
    }
    const snapshot: ObjectEventRecord = { seq: object.version, kind: 'state_changed', operation: object.currentOperation ?? null, snapshot: object };
    const progress = concat(lastEventId === undefined ? of(snapshot) : EMPTY, this.feeds.eventsAfter(id, lastEventId ?? object.version)).pipe(
      takeWhile((event) => !isSettled(event.snapshot.state), true),
      map((event): MessageEvent => {
        let data = serialized.get(event);
        if (data === undefined) {
          data = JSON.stringify(toProgressView({ ...object, ...event.snapshot }));
          serialized.set(event, data);
        }
        return { type: 'progress', id: String(event.seq), data };
      }),
      share(),
    );
    const heartbeat = interval(HEARTBEAT_MS).pipe(map((): MessageEvent => ({ comment: 'heartbeat' })));
    const settled = progress.pipe(ignoreElements(), endWith(null));
    return merge(progress, heartbeat.pipe(takeUntil(settled))).pipe(takeUntil(this.shutdown$));
  }

  beforeApplicationShutdown(): void {
    this.shutdown$.next();
    this.shutdown$.complete();
  }
}
