import { Subject, filter, of } from 'rxjs';
import type { ObjectChange, ObjectNotifications } from '../notifications/object-notifications';
import type { ObjectEventRecord } from '../objects/object-event.entity';
import type { ObjectEventsRepository } from '../objects/object-events.repository';
import { ProgressFeeds } from './progress-feeds';

const ID = '00000000-0000-4000-8000-000000000001';
const event = (seq: number): ObjectEventRecord => ({
  seq,
  kind: 'operation_started',
  operation: 'validate',
  snapshot: { state: 'processing' } as ObjectEventRecord['snapshot'],
});

/** Feeds over an in-memory event log and a Subject of change notifications, counting the reads of the log. */
function setUp(recorded: number[]) {
  const log = recorded.map(event);
  const reads: number[] = [];
  const changes = new Subject<ObjectChange>();
  const eventLog = {
    currentVersion: () => Promise.resolve(log.at(-1)?.seq ?? 1),
    eventsAfter: (_id: string, after: number) => {
      reads.push(after);
      return Promise.resolve(log.filter((recordedEvent) => recordedEvent.seq > after));
    },
  } as unknown as ObjectEventsRepository;
  const notifications = {
    changesOf: (id: string) => changes.pipe(filter((change) => change.id === id)),
    changesListening: () => of(true),
  } as unknown as ObjectNotifications;
  const record = (seq: number) => log.push(event(seq));
  return { feeds: new ProgressFeeds(eventLog, notifications), changes, reads, record };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ProgressFeeds', () => {
  it('passes on the next event carried by a change without reading it, and reads whatever a gap hides', async () => {
    const { feeds, changes, reads, record } = setUp([1]);
    const seen: number[] = [];
    const subscription = feeds.follow(ID, 1).subscribe((received) => seen.push(received.seq));
    await settle();
    expect(reads).toEqual([1]); // the client's own catch-up read

    record(2);
    changes.next({ id: ID, version: 2, event: event(2) });
    await settle();
    expect(seen).toEqual([2]);
    expect(reads).toEqual([1]);

    // Version 3's notification was lost: 4 cannot be passed on as it is, so the log is read from 2.
    record(3);
    record(4);
    changes.next({ id: ID, version: 4, event: event(4) });
    await settle();
    expect(seen).toEqual([2, 3, 4]);
    expect(reads).toEqual([1, 2]);

    // A late notification of what was read already costs nothing; one without its event is read.
    changes.next({ id: ID, version: 3, event: event(3) });
    record(5);
    changes.next({ id: ID, version: 5 });
    await settle();
    expect(seen).toEqual([2, 3, 4, 5]);
    expect(reads).toEqual([1, 2, 4]);
    subscription.unsubscribe();
  });
});
