import { existsSync, readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

const THREADS = '/proc/self/task';

/**
 * Lowers this process's CPU priority to the nice value `nice`, never raising it (that needs privilege).
 * Linux keeps a nice value per thread: each thread this process already has (V8's, libuv's) is set, and
 * threads started later inherit it from the thread that starts them. Elsewhere the process is set.
 */
export function lowerPriority(nice: number): void {
  const threads = existsSync(THREADS) ? readdirSync(THREADS).map(Number) : [0];
  for (const thread of threads) {
    try {
      if (getPriority(thread) < nice) {
        setPriority(thread, nice);
      }
    } catch (error) {
      // A thread that ended since it was listed has no priority left to set.
      if (existsSync(`${THREADS}/${thread}`)) {
        throw error;
      }
    }
  }
}
