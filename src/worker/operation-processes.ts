import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import workerpool from 'workerpool';
import { AppConfig } from '../config/app-config';
import type { OperationBudget } from '../operations/operation-budget';
import type { OperationTask, OperationTaskResult } from './operation-task';

type Pool = ReturnType<typeof workerpool.pool>;

/** A pool with the runs under way in it; a pool of a per-object budget closes when idle. */
interface PoolEntry {
  pool: Pool;
  running: number;
  closeWhenIdle?: NodeJS.Timeout;
}

/** Memory budgets are rounded up to this step, so that the pools of per-object budgets stay few. */
const MEMORY_STEP_MB = 32;

/** A pool of a per-object budget that has run nothing for this long is closed with its processes. */
const IDLE_POOL_MS = 60_000;

/** How V8 ends a process that reached its heap limit: an abort. */
const OUT_OF_MEMORY_EXIT = /signalCode: `SIGABRT`|exitCode: `134`/;

/**
 * Runs operations in processes of their own (workerpool, one pool per memory budget), so that content
 * work never runs on the event loop that serves HTTP and renews job locks. A run is ended with its
 * process when its object is cancelled, its worker stops, or it outruns its time budget; a process
 * over its heap budget (--max-old-space-size) is ended by V8. Either budget ends in a failed outcome
 * that names it, and the job and every other run carry on.
 *
 * Processes rather than worker threads: a worker thread that reaches its resourceLimits can abort the
 * whole process instead of only itself (nodejs/node#47224, seen here with a large JSON document), and
 * that would take the job's locks and every other object of this worker down with it.
 */
@Injectable()
export class OperationProcesses implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OperationProcesses.name);
  private readonly pools = new Map<number, PoolEntry>();

  constructor(private readonly config: AppConfig) {}

  /** Starts the first process of the default budget, so that the first job does not wait for it. */
  onApplicationBootstrap(): void {
    this.pool(this.defaultMemoryMb());
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.pools.values()].map(({ pool, closeWhenIdle }) => {
      clearTimeout(closeWhenIdle);
      return pool.terminate(true);
    }));
  }

  /**
   * Runs `task` in a process. `onProgress` receives the operation's progress messages in order, and
   * all of them before this resolves. Rejects with `signal.reason` when `signal` aborts.
   */
  async run(task: OperationTask, budget: OperationBudget, signal: AbortSignal, onProgress: (message: string) => Promise<void>): Promise<OperationTaskResult> {
    signal.throwIfAborted();
    const memoryMb = roundedMemory(budget.memoryMb);
    let progressed = Promise.resolve();
    const relay = (message: string) => {
      progressed = progressed.then(() => onProgress(message)).catch((error: unknown) => this.logger.warn(`Progress of ${task.operation} not recorded: ${(error as Error).message}`));
    };
    const entry = this.pool(memoryMb);
    entry.running++;
    clearTimeout(entry.closeWhenIdle);
    const running = entry.pool.exec('runOperationTask', [task], { on: relay }).timeout(budget.timeMs);
    // Returns nothing: EventTarget treats a returned thenable as the listener's promise and rethrows its rejection.
    const cancel = () => {
      running.cancel();
    };
    signal.addEventListener('abort', cancel, { once: true });
    try {
      const result = (await running) as OperationTaskResult;
      await progressed;
      return result;
    } catch (error) {
      if (signal.aborted) {
        throw signal.reason;
      }
      if (error instanceof workerpool.Promise.TimeoutError) {
        return overBudget(`${task.operation} exceeded its time budget of ${budget.timeMs} ms and was stopped`);
      }
      if (error instanceof Error && OUT_OF_MEMORY_EXIT.test(error.message)) {
        return overBudget(`${task.operation} exceeded its memory budget of ${memoryMb} MB and was stopped`);
      }
      throw error;
    } finally {
      signal.removeEventListener('abort', cancel);
      entry.running--;
      if (entry.running === 0 && memoryMb !== this.defaultMemoryMb()) {
        entry.closeWhenIdle = setTimeout(() => this.closePool(memoryMb), IDLE_POOL_MS).unref();
      }
    }
  }

  private closePool(memoryMb: number): void {
    const entry = this.pools.get(memoryMb);
    if (entry?.running === 0) {
      this.pools.delete(memoryMb);
      entry.pool.terminate().catch((error: unknown) => this.logger.warn(`Closing the ${memoryMb} MB operation pool: ${(error as Error).message}`));
    }
  }

  private defaultMemoryMb(): number {
    return roundedMemory(this.config.operationBudget.memoryMb);
  }

  private pool(memoryMb: number): PoolEntry {
    let entry = this.pools.get(memoryMb);
    if (!entry) {
      const pool = workerpool.pool(processScript(), {
        workerType: 'process',
        // One process per job this process runs at once; the pool of the default budget keeps one warm.
        maxWorkers: this.config.maxParallelWorkers,
        minWorkers: memoryMb === this.defaultMemoryMb() ? 1 : 0,
        // A cancelled or over-time run is killed at once, not given time to clean up (0 would mean workerpool's default of 1 s).
        workerTerminateTimeout: 1,
        forkOpts: {
          env: { ...process.env, ...this.config.env },
          execArgv: [...process.execArgv.filter((option) => !option.startsWith('--max-old-space-size')), `--max-old-space-size=${memoryMb}`],
          // Buffers cross as bytes, not as JSON arrays of numbers.
          serialization: 'advanced',
        },
      });
      entry = { pool, running: 0 };
      this.pools.set(memoryMb, entry);
    }
    return entry;
  }
}

function roundedMemory(memoryMb: number): number {
  return Math.ceil(memoryMb / MEMORY_STEP_MB) * MEMORY_STEP_MB;
}

function overBudget(reason: string): OperationTaskResult {
  return { outcome: { status: 'failed', code: 'budget_exceeded', reason }, carry: { contents: [], shared: [] } };
}

/**
 * The compiled process body. Under ts-jest the sources are not compiled to disk, so operation
 * processes run the build of the same sources (`npm test` builds first).
 */
function processScript(): string {
  const compiled = join(__dirname, 'operation-process.js');
  return existsSync(compiled) ? compiled : resolve(__dirname, '../../dist/src/worker/operation-process.js');
}
