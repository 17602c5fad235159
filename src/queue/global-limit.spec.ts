import { AppConfig } from '../config/app-config';
import { GlobalLimit } from './global-limit';
import type { ProcessingQueue } from './processing-queue';

/** A queue whose meta field lives in memory, and whose connection can be made to come back. */
function fakeQueue() {
  const meta: { concurrency: number | null } = { concurrency: null };
  const readyListeners = new Set<() => void>();
  const queue = {
    setGlobalConcurrency(concurrency: number) {
      meta.concurrency = concurrency;
      return Promise.resolve();
    },
    globalConcurrency() {
      return Promise.resolve(meta.concurrency);
    },
    onConnectionReady(listener: () => void) {
      readyListeners.add(listener);
      return () => readyListeners.delete(listener);
    },
  };
  const reconnect = () => readyListeners.forEach((listener) => listener());
  return { queue: queue as unknown as ProcessingQueue, meta, reconnect, readyListeners };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('GlobalLimit', () => {
  const config = new AppConfig({ MAX_PARALLEL_WORKERS: '4', GLOBAL_LIMIT_CHECK_INTERVAL_MS: '3600000' });

  it('sets the limit at start, once however often start is called', async () => {
    const { queue, meta, readyListeners } = fakeQueue();
    const limit = new GlobalLimit(config, queue);

    await Promise.all([limit.start(), limit.onApplicationBootstrap()]);

    expect(meta.concurrency).toBe(4);
    expect(readyListeners.size).toBe(1);
    await limit.onApplicationShutdown();
  });

  it('sets the limit again when the connection comes back to a Redis that lost it', async () => {
    const { queue, meta, reconnect } = fakeQueue();
    const limit = new GlobalLimit(config, queue);
    await limit.start();

    meta.concurrency = null;
    reconnect();
    await settle();

    expect(meta.concurrency).toBe(4);
    await limit.onApplicationShutdown();
  });

  it('stops listening at shutdown', async () => {
    const { queue, readyListeners } = fakeQueue();
    const limit = new GlobalLimit(config, queue);
    await limit.start();

    await limit.onApplicationShutdown();

    expect(readyListeners.size).toBe(0);
  });
});
