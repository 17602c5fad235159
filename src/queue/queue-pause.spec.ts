import type { Principal } from '../access/principal';
import { AppConfig } from '../config/app-config';
import type { Sql } from '../database/sql';
import type { ProcessingQueue } from './processing-queue';
import { QueuePause, STOP_CHECK_MAX_AGE_MS } from './queue-pause';
import type { PauseMode } from './queue-pause.entity';

/** PostgreSQL's queue_pauses as one row in memory, counting the readings of it. */
function fakeSql() {
  const table: { row: { mode: PauseMode } | null; readings: number; failing: boolean } = { row: null, readings: 0, failing: false };
  const sql = {
    prepared() {
      table.readings++;
      if (table.failing) {
        return Promise.reject(new Error('connection refused'));
      }
      return Promise.resolve(
        table.row ? [{ ...table.row, reason: 'r', paused_at: new Date(), paused_by_key_id: null, paused_by_key_name: 'k' }] : [],
      );
    },
    query(text: string, params: unknown[]) {
      table.row = text.startsWith('insert') ? { mode: params[1] as PauseMode } : null;
      return Promise.resolve([]);
    },
  };
  return { sql: sql as unknown as Sql, table };
}

const queue = { pause: () => Promise.resolve(), resume: () => Promise.resolve() } as unknown as ProcessingQueue;
const admin = { keyId: null, keyName: 'admin' } as unknown as Principal;

describe('QueuePause.stopsRunning (asked at every operation boundary)', () => {
  const config = new AppConfig({});

  // The readings' age is counted on a clock the test moves (performance.now() included).
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('reads the pause once for the boundaries of a short span, and again once that reading is older than the span', async () => {
    const { sql, table } = fakeSql();
    const pause = new QueuePause(config, sql, queue);

    expect(await Promise.all([pause.stopsRunning(), pause.stopsRunning(), pause.stopsRunning()])).toEqual([false, false, false]);
    expect(table.readings).toBe(1);

    table.row = { mode: 'stop' };
    jest.advanceTimersByTime(STOP_CHECK_MAX_AGE_MS);
    expect(await pause.stopsRunning()).toBe(false);
    jest.advanceTimersByTime(1);
    expect(await pause.stopsRunning()).toBe(true);
    expect(table.readings).toBe(2);
  });

  it('sees a pause or resume made by its own process at once', async () => {
    const { sql } = fakeSql();
    const pause = new QueuePause(config, sql, queue);
    expect(await pause.stopsRunning()).toBe(false);

    await pause.pause('stop', 'maintenance', admin);
    expect(await pause.stopsRunning()).toBe(true);
    await pause.pause('drain', 'drain only', admin);
    expect(await pause.stopsRunning()).toBe(false);
    await pause.pause('stop', 'again', admin);
    await pause.resume(admin);
    expect(await pause.stopsRunning()).toBe(false);
  });

  it('does not keep a failed reading: the next boundary reads again', async () => {
    const { sql, table } = fakeSql();
    const pause = new QueuePause(config, sql, queue);
    table.failing = true;
    await expect(pause.stopsRunning()).rejects.toThrow('connection refused');
    table.failing = false;
    table.row = { mode: 'stop' };
    expect(await pause.stopsRunning()).toBe(true);
    expect(table.readings).toBe(2);
  });
});
