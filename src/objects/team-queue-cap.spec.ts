import { TeamQueueFullError } from '../access/access-errors';
import { AppConfig } from '../config/app-config';
import type { ObjectsRepository } from './objects.repository';
import { TeamQueueCap } from './team-queue-cap';

/** A repository whose counts of waiting objects answer only when the test lets them. */
function setUp(cap: number) {
  const pending: { resolve: (waiting: number) => void; reject: (error: Error) => void }[] = [];
  const objects = {
    countWaiting: jest.fn(() => new Promise<number>((resolve, reject) => pending.push({ resolve, reject }))),
  };
  const teamQueue = new TeamQueueCap(objects as unknown as ObjectsRepository, new AppConfig({ TEAM_MAX_QUEUED_OBJECTS: String(cap) }));
  const settled = <T>(promise: Promise<T>) =>
    promise.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  return { objects, teamQueue, pending, settled };
}

afterEach(() => {
  jest.useRealTimers();
});

describe('TeamQueueCap', () => {
  it('counts once for the requests that arrive while a count is on its way, and lets exactly the room left through', async () => {
    const { objects, teamQueue, pending, settled } = setUp(5);
    const checks = Array.from({ length: 6 }, () => settled(teamQueue.check('alpha')));
    expect(objects.countWaiting).toHaveBeenCalledTimes(1);
    pending[0]!.resolve(3);
    const outcomes = await Promise.all(checks);
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(2);
    const refused = outcomes.filter((outcome) => !outcome.ok);
    expect(refused).toHaveLength(4);
    refused.forEach((outcome) => expect(outcome.error).toBeInstanceOf(TeamQueueFullError));
    expect(objects.countWaiting).toHaveBeenCalledTimes(1);
  });

  it('counts each team apart', async () => {
    const { objects, teamQueue, pending } = setUp(5);
    const checks = [teamQueue.check('alpha'), teamQueue.check('beta'), teamQueue.check('alpha')];
    expect(objects.countWaiting.mock.calls).toEqual([['alpha'], ['beta']]);
    pending.forEach(({ resolve }) => resolve(0));
    await Promise.all(checks);
  });

  it('counts again once the count has expired, and after a count that failed', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { objects, teamQueue, pending, settled } = setUp(5);
    const first = [settled(teamQueue.room('alpha')), settled(teamQueue.room('alpha'))];
    pending[0]!.reject(new Error('connection lost'));
    for (const outcome of await Promise.all(first)) {
      expect(outcome).toEqual({ ok: false, error: new Error('connection lost') });
    }
    const second = teamQueue.room('alpha');
    expect(objects.countWaiting).toHaveBeenCalledTimes(2);
    pending[1]!.resolve(1);
    expect(await second).toBe(4);
    // Trusted for a second: no count.
    expect(await teamQueue.room('alpha')).toBe(4);
    expect(objects.countWaiting).toHaveBeenCalledTimes(2);
    jest.advanceTimersByTime(1000);
    const third = teamQueue.room('alpha');
    expect(objects.countWaiting).toHaveBeenCalledTimes(3);
    pending[2]!.resolve(2);
    expect(await third).toBe(3);
  });

  // Cap 2. After the first check, the trusted count is `trusted`; two more checks ask in the same tick.
  it.each([
    { case: 'at the cap: both need a fresh count, and share it', firstCount: 1, freshCount: 0 },
    { case: 'with room for one: the first takes it, the second counts afresh', firstCount: 0, freshCount: 1 },
  ])('refuses only on a fresh count: $case', async ({ firstCount, freshCount }) => {
    const { objects, teamQueue, pending } = setUp(2);
    const first = teamQueue.check('alpha');
    pending[0]!.resolve(firstCount);
    await first;
    const next = [teamQueue.check('alpha'), teamQueue.check('alpha')];
    expect(objects.countWaiting).toHaveBeenCalledTimes(2);
    pending[1]!.resolve(freshCount);
    await Promise.all(next);
    // Both were let through and counted: the team is at its cap (known without counting again).
    expect(await teamQueue.room('alpha', 0)).toBe(0);
    expect(objects.countWaiting).toHaveBeenCalledTimes(2);
  });

  it('starts another count when the one on its way is older than a second, and keeps the newer one', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { objects, teamQueue, pending, settled } = setUp(2);
    const stuck = settled(teamQueue.check('alpha'));
    jest.advanceTimersByTime(1000);
    const later = teamQueue.check('alpha');
    expect(objects.countWaiting).toHaveBeenCalledTimes(2);
    pending[1]!.resolve(0);
    await later;
    // The first count answers at last, with what it saw then: its request goes by it, the team's trusted count stays the newer one.
    pending[0]!.resolve(2);
    const outcome = await stuck;
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(TeamQueueFullError);
    await teamQueue.check('alpha');
    expect(objects.countWaiting).toHaveBeenCalledTimes(2);
  });
});
