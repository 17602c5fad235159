import { Injectable, MessageEvent, BeforeApplicationShutdown } from '@nestjs/common';
import { Observable, Subject, concatMap, endWith, filter, from, ignoreElements, interval, map, merge, share, takeUntil, takeWhile } from 'rxjs';
import { ObjectEvents } from '../events/object-events';
import { toProgressView } from '../objects/object.presenter';
import { isSettled } from '../objects/object-state';
import { ObjectsRepository } from '../objects/objects.repository';

const HEARTBEAT_MS = 15_000;

/**
 * Server-sent progress of one object: the current snapshot, then one event per change, until
 * the object settles (completed, failed or cancelled). Listens before it reads, so no change between the two is missed.
 */
@Injectable()
export class ProgressStream implements BeforeApplicationShutdown {
  private readonly shutdown$ = new Subject<void>();

  constructor(
    private readonly objects: ObjectsRepository,
    private readonly events: ObjectEvents,
  ) {}

  async open(id: string, lastEventId: number | undefined): Promise<Observable<MessageEvent>> {
    await this.objects.getById(id);
    let lastSent = lastEventId ?? 0;
    const refreshes = merge(this.events.changesOf(id), this.events.changesListening());
    const progress = refreshes.pipe(
      concatMap(() => from(this.objects.findById(id))),
      takeWhile((object) => object !== null),
      // Settling ends the stream even when the client has already seen the final event (a reconnect after it).
      takeWhile((object) => !isSettled(object!.state), true),
      filter((object) => object!.version > lastSent),
      map((object) => {
        lastSent = object!.version;
        return object!;
      }),
      map((object): MessageEvent => ({ type: 'progress', id: String(object.version), data: toProgressView(object) })),
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
