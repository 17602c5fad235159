import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import workerpool from 'workerpool';
import { AppConfig } from '../config/app-config';
import type { OperationBudget } from '../operations/operation-budget';
import type { OperationProcessMessage, OperationTask, OperationTaskResult } from './operation-task';

/** A run as the job asks for it: the pool decides whether the process exports its spans before answering. */
export type OperationRequest = Omit<OperationTask, 'flushSpans'>;

type Pool = ReturnType<typeof workerpool.pool>;

/** A pool with the runs under way in it. */
interface PoolEntry {
  pool: Pool;
  running: number;
}

/** How long a worker waits at start for its operation processes before it gives up starting. */
const STARTUP_TIMEOUT_MS = 60_000;

/** Memory budgets are rounded up to this step, so that objects asking for nearly the same share a pool. */
const MEMORY_STEP_MB = 32;

/**
 * The old generation an operation process starts with. V8 would set its first limits just above the ~22 MB the
 * process holds after start, and a run that keeps a few MB (an image's buffers and their S3 requests) would then
 * cost a full garbage collection every image or two: thumbnails took 220-250 ms of CPU per image as V8 chose, 236
 * with 32 MB to start with, 200 with 64 (the large CSV's peak memory: about 18 MB more).
 */
const INITIAL_OLD_SPACE_MB = 64;

/**
 * The young generation's semi-spaces of an operation process. Content streams through it in 64 KiB buffers
 * whose bytes live outside the heap until a scavenge frees them: with 8 MiB semi-spaces, 20-45 MiB of them
 * were waiting at any time while a large CSV was transformed; with 4, the process peaked about 13 MiB lower,
 * at the same speed.
 */
const SEMI_SPACE_MB = 4;

/**
 * glibc keeps freed chunks smaller than its mmap threshold (128 KiB and rising) for reuse instead of returning
 * them, so a process that streamed content held on to the peak of its buffers (130 MiB after validating a
 * 150 MB CSV, against 90 with this). At 64 KiB, a stream's chunks are mapped and unmapped on their own.
 */
const MALLOC_MMAP_THRESHOLD = String(64 * 1024);

/** How V8 ends a process that reached its heap limit: an abort (a native assertion would too, far more rarely). */
const ABORTED = /signalCode: `SIGABRT`|exitCode: `134`/;

/** The operation process of a run ended or broke before the run finished, for a reason other than its budget or a cancel. */
export class OperationProcessError extends Error {}

/** The process given a run was already gone before the run started (it died idle): the run is given to another. */
class ProcessLostBeforeStart extends Error {}

/**
 * Runs operations in processes of their own (workerpool), so that content work never runs on the event
 * loop that serves HTTP and renews job locks. A run is ended with its process when its object is
 * cancelled, its worker stops, or it outruns its time budget (counted from when the operation starts,
 * not from the process's boot); a process over its heap budget (--max-old-space-size) is ended by V8.
 * Either budget ends in a failed outcome that names it, and the job and every other run carry on.
 *
 * The default budget's pool keeps its processes (OPERATION_PROCESSES); a pool of a per-object budget
 * is closed as soon as it has no run, so at most OPERATION_PROCESSES + MAX_PARALLEL_WORKERS processes
 * live at once.
 *
 * Processes rather than worker threads: a worker thread that reaches its resourceLimits can abort the
 * whole process instead of only itself (nodejs/node#47224, seen here with a large JSON document), and
 * that would take the job's locks and every other object of this worker down with it.
 */
@Injectable()
export class OperationProcesses implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(OperationProcesses.name);
  private readonly pools = new Map<number, PoolEntry>();

  constructor(private readonly config: AppConfig) {}

  /**
   * Starts every process of the default budget and waits until each can run an operation, before the
   * worker takes its first job: a process takes about a second of CPU to start, which jobs would
   * otherwise wait for, on a machine busy with other jobs.
   */
  async onModuleInit(): Promise<void> {
    const { pool } = this.pool(this.defaultMemoryMb());
    // A process runs one task at a time, so as many tasks at once reach as many processes.
    const started = Array.from({ length: this.config.operationProcesses }, () => pool.exec('awaitStarted', []).timeout(STARTUP_TIMEOUT_MS));
    try {
      await Promise.all(started);
    } catch (error) {
      // Nest runs no shutdown hook when start-up fails: the processes are ended here.
      await this.onApplicationShutdown();
      throw new Error(`Operation processes could not start: ${(error as Error).message}`);
    }
  }

  /** Kills every operation process; bounded, because workerpool waits for an exit that a process already dead never sends again. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.pools.values()].map(({ pool }) => pool.terminate(true, 1000)));
  }

  /**
   * Runs `task` in a process. `onProgress` receives the operation's progress messages in order, and
   * all of them before this resolves. Rejects with `signal.reason` when `signal` aborts, and with an
   * OperationProcessError when the process ends for another reason than its budget.
   */
  async run(
    task: OperationRequest,
    budget: OperationBudget,
    signal: AbortSignal,
    onProgress: (message: string) => Promise<void>,
  ): Promise<OperationTaskResult> {
    // workerpool finds a process that died idle only by giving it a task, so every kept process may be met dead once.
    for (let lost = 0; ; lost++) {
      try {
        return await this.runOnce(task, budget, signal, onProgress);
      } catch (error) {
        if (!(error instanceof ProcessLostBeforeStart) || lost >= this.config.operationProcesses) {
          throw error;
        }
        this.logger.warn(`The operation process given ${task.operation} was gone before it started; running it in another`);
      }
    }
  }

  private async runOnce(
    task: OperationRequest,
    budget: OperationBudget,
    signal: AbortSignal,
    onProgress: (message: string) => Promise<void>,
  ): Promise<OperationTaskResult> {
    signal.throwIfAborted();
    const memoryMb = roundedMemory(budget.memoryMb);
    const entry = this.pool(memoryMb);
    entry.running++;
    let started = false;
    let overTime = false;
    let budgetTimer: NodeJS.Timeout | undefined;
    let progressed = Promise.resolve();
    const fromProcess = (message: OperationProcessMessage) => {
      if ('started' in message) {
        started = true;
        budgetTimer = setTimeout(() => {
          overTime = true;
          running.cancel();
        }, budget.timeMs);
      } else {
        progressed = progressed
          .then(() => onProgress(message.progress))
          .catch((error: unknown) => this.logger.warn(`Progress of ${task.operation} not recorded: ${(error as Error).message}`));
      }
    };
    const processTask: OperationTask = { ...task, flushSpans: memoryMb !== this.defaultMemoryMb() };
    const running = entry.pool.exec('runOperationTask', [processTask], { on: fromProcess });
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
      if (overTime) {
        return overBudget(`exceeded its time budget of ${budget.timeMs} ms and was stopped`);
      }
      const message = error instanceof Error ? error.message : String(error);
      if (ABORTED.test(message)) {
        return overBudget(`exceeded its memory budget of ${budget.memoryMb} MB and was stopped (its process was aborted)`);
      }
      if (!started && error instanceof workerpool.TerminateError) {
        throw new ProcessLostBeforeStart(message);
      }
      // workerpool's own text names script paths and command lines: logged, not shown to the object's owner.
      this.logger.error(`Operation process of ${task.operation} ended unexpectedly: ${message}`);
      throw new OperationProcessError('its operation process ended unexpectedly');
    } finally {
      clearTimeout(budgetTimer);
      signal.removeEventListener('abort', cancel);
      entry.running--;
      if (entry.running === 0 && memoryMb !== this.defaultMemoryMb()) {
        this.closePool(memoryMb, entry);
      }
    }
  }

  private closePool(memoryMb: number, entry: PoolEntry): void {
    this.pools.delete(memoryMb);
    entry.pool
      .terminate(true, 1000)
      .catch((error: unknown) => this.logger.warn(`Closing the ${memoryMb} MB operation pool: ${(error as Error).message}`));
  }

  private defaultMemoryMb(): number {
    return roundedMemory(this.config.operationBudget.memoryMb);
  }

  private pool(memoryMb: number): PoolEntry {
    let entry = this.pools.get(memoryMb);
    if (!entry) {
      const pool = workerpool.pool(processScript(), {
        workerType: 'process',
        // Those of the default budget are kept (onModuleInit starts them); a run beyond them waits for one.
        maxWorkers: this.config.operationProcesses,
        minWorkers: memoryMb === this.defaultMemoryMb() ? this.config.operationProcesses : 0,
        // A cancelled or over-time run is killed at once, not given time to clean up (0 would mean workerpool's default of 1 s).
        workerTerminateTimeout: 1,
        forkOpts: {
          // An operator's own malloc settings win.
          env: { MALLOC_MMAP_THRESHOLD_: MALLOC_MMAP_THRESHOLD, ...process.env, ...this.config.env },
          // workerpool appends this process's own --max-old-space-size after these: start workers with NODE_OPTIONS instead.
          execArgv: [
            ...process.execArgv.filter((option) => !option.startsWith('--max-old-space-size')),
            `--max-old-space-size=${memoryMb}`,
            `--initial-old-space-size=${Math.min(INITIAL_OLD_SPACE_MB, memoryMb)}`,
            // After NODE_OPTIONS (the worker Deployment's --max-semi-space-size), so this one applies.
            `--max-semi-space-size=${SEMI_SPACE_MB}`,
            // For the scavenges a running operation asks for (operation-process.ts).
            '--expose-gc',
          ],
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
