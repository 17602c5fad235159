import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { AppConfig } from '../config/app-config';
import type { OperationBudget } from '../operations/operation-budget';
import type { OperationTask, OperationTaskResult } from './operation-task';

/** Memory budgets are rounded up to this step, so that the pools of per-object budgets stay few. */
const MEMORY_STEP_MB = 32;
const IDLE_THREAD_MS = 60_000;

/**
 * Runs operations in worker threads (piscina pools, one per memory budget), so that content work
 * never runs on the event loop that serves HTTP and renews job locks. A run is terminated with its
 * thread when its object is cancelled, its worker stops, or it outruns its time budget; a thread
 * over its heap budget is stopped by V8 (resourceLimits). Either budget ends in a failed outcome
 * that names it. piscina over BullMQ's sandboxed processors: the budget and cancellation apply to
 * one operation, while the job (state writes, events, locks) stays on the main thread.
 */
@Injectable()
export class OperationThreads implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OperationThreads.name);
  private readonly pools = new Map<number, Piscina<OperationTask, OperationTaskResult>>();

  constructor(private readonly config: AppConfig) {}

  /**
   * Runs `task` in a thread. `onProgress` receives the operation's progress messages in order, and
   * all of them before this resolves. Rejects with `signal.reason` when `signal` aborts.
   */
  async run(
    task: Omit<OperationTask, 'progress'>,
    budget: OperationBudget,
    signal: AbortSignal,
    onProgress: (message: string) => Promise<void>,
  ): Promise<OperationTaskResult> {
    const memoryMb = roundedMemory(budget.memoryMb);
    const { port1, port2 } = new MessageChannel();
    let progressed = Promise.resolve();
    const relay = (message: string) => {
      progressed = progressed.then(() => onProgress(message)).catch((error: unknown) => this.logger.warn(`Progress of ${task.operation} not recorded: ${(error as Error).message}`));
    };
    port2.on('message', relay);
    const overTime = AbortSignal.timeout(budget.timeMs);
    try {
      const result = await this.pool(memoryMb).run({ ...task, progress: port1 }, { transferList: [port1], signal: AbortSignal.any([signal, overTime]) });
      // Messages posted just before the thread answered may not have been dispatched yet.
      for (let pending = receiveMessageOnPort(port2); pending; pending = receiveMessageOnPort(port2)) {
        relay(pending.message as string);
      }
      await progressed;
      return result;
    } catch (error) {
      if (signal.aborted) {
        throw signal.reason;
      }
      if (overTime.aborted) {
        return overBudget(`${task.operation} exceeded its time budget of ${budget.timeMs} ms and was stopped`);
      }
      if ((error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        return overBudget(`${task.operation} exceeded its memory budget of ${memoryMb} MB and was stopped`);
      }
      throw error;
    } finally {
      port2.close();
    }
  }

  /** Starts the first thread of the default budget, so that the first job does not wait for it. */
  onApplicationBootstrap(): void {
    this.pool(this.defaultMemoryMb());
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
  }

  private defaultMemoryMb(): number {
    return roundedMemory(this.config.operationBudget.memoryMb);
  }

  private pool(memoryMb: number): Piscina<OperationTask, OperationTaskResult> {
    let pool = this.pools.get(memoryMb);
    if (!pool) {
      const isDefault = memoryMb === this.defaultMemoryMb();
      pool = new Piscina({
        filename: threadScript(),
        name: 'runOperationTask',
        // One thread per job this process runs at once; the pool of the default budget keeps one warm.
        maxThreads: this.config.maxParallelWorkers,
        minThreads: isDefault ? 1 : 0,
        idleTimeout: IDLE_THREAD_MS,
        resourceLimits: { maxOldGenerationSizeMb: memoryMb },
        workerData: { env: this.config.env },
      });
      pool.on('error', (error: Error) => this.logger.error(`Operation thread failed: ${error.message}`));
      this.pools.set(memoryMb, pool);
    }
    return pool;
  }
}

function roundedMemory(memoryMb: number): number {
  return Math.ceil(memoryMb / MEMORY_STEP_MB) * MEMORY_STEP_MB;
}

function overBudget(reason: string): OperationTaskResult {
  return { outcome: { status: 'failed', code: 'budget_exceeded', reason }, carry: { contents: [], shared: [] } };
}

/**
 * The compiled thread body. Under ts-jest the sources are not compiled to disk, so threads run the
 * build of the same sources (`npm test` builds first).
 */
function threadScript(): string {
  const compiled = join(__dirname, 'operation-thread.js');
  return existsSync(compiled) ? compiled : resolve(__dirname, '../../dist/src/worker/operation-thread.js');
}
