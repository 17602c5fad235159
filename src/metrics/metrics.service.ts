import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { withTimeout } from '../common/with-timeout';
import { OBJECT_STATES } from '../objects/object-state';
import { ObjectsRepository } from '../objects/objects.repository';
import { ProcessingQueue } from '../queue/processing-queue';

/** How an operation's run ended: `retrying` means the queue will run it again (transient error, or handed back on shutdown). */
export type OperationOutcome = 'completed' | 'failed' | 'cancelled' | 'retrying';

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
const COLLECT_TIMEOUT_MS = 2000;

/**
 * The Prometheus metrics of this process, in a registry of its own (not prom-client's global
 * one), so several applications in one process never share or clash over metrics.
 * Gauges read from PostgreSQL and Redis are collected on scrape; one whose source is down is
 * left empty rather than failing the scrape.
 */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  private readonly logger = new Logger(MetricsService.name);
  readonly registry = new Registry();

  private readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly operationDuration = new Histogram({
    name: 'operation_duration_seconds',
    help: 'Duration of one run of an operation on an object, by operation and outcome',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  private readonly jobRetries = new Counter({
    name: 'job_retries_total',
    help: 'Operations that failed with a transient error and are retried by the queue, by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  private readonly objectFailures = new Counter({
    name: 'object_failures_total',
    help: 'Objects that ended failed, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  private readonly webhookAttempts = new Counter({
    name: 'webhook_delivery_attempts_total',
    help: 'Attempts to deliver a webhook, by outcome: delivered (a 2xx answer) or failed (retried later, or given up once its retry window ends)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly sseConnections = new Gauge({
    name: 'sse_connections',
    help: 'Progress streams (server-sent events) open in this process',
    registers: [this.registry],
  });

  private readonly ready = new Gauge({
    name: 'health_ready',
    help: 'Outcome of the last readiness check of this process: 1 ready, 0 not ready (changes of it are flapping)',
    registers: [this.registry],
  });

  constructor(objects: ObjectsRepository, queue: ProcessingQueue) {
    collectDefaultMetrics({ register: this.registry });
    const logger = this.logger;
    new Gauge({
      name: 'objects_current',
      help: 'Objects by state (from PostgreSQL, at scrape time)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        try {
          const counts = await collected(objects.countByState());
          OBJECT_STATES.forEach((state) => this.set({ state }, counts[state] ?? 0));
        } catch (error) {
          logger.warn(`objects_current not collected: ${(error as Error).message}`);
        }
      },
    });
    new Gauge({
      name: 'queue_jobs',
      help: 'Jobs in the processing queue by state (from Redis, at scrape time)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        try {
          const counts = await collected(queue.counts());
          QUEUE_STATES.forEach((state) => this.set({ state }, counts[state]));
        } catch (error) {
          logger.warn(`queue_jobs not collected: ${(error as Error).message}`);
        }
      },
    });
    new Gauge({
      name: 'queue_oldest_waiting_seconds',
      help: 'How long the object queued longest ago has waited to start, 0 when none waits (from PostgreSQL, at scrape time)',
      registers: [this.registry],
      async collect() {
        this.reset();
        try {
          this.set(await collected(objects.oldestQueuedAgeSeconds()));
        } catch (error) {
          logger.warn(`queue_oldest_waiting_seconds not collected: ${(error as Error).message}`);
        }
      },
    });
    new Gauge({
      name: 'queue_workers',
      help: 'Worker processes connected to the processing queue, all pods together (from Redis, at scrape time)',
      registers: [this.registry],
      async collect() {
        this.reset();
        try {
          this.set(await collected(queue.workerCount()));
        } catch (error) {
          logger.warn(`queue_workers not collected: ${(error as Error).message}`);
        }
      },
    });
  }

  observeHttpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpRequestDuration.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  /** Starts timing a run of `operation`; call the returned function once with how it ended. It returns the duration in seconds. */
  timeOperation(operation: string): (outcome: OperationOutcome) => number {
    const end = this.operationDuration.startTimer({ operation });
    return (outcome) => end({ outcome });
  }

  /** Counts a progress stream open until the returned function is called. */
  openSseConnection(): () => void {
    this.sseConnections.inc();
    let open = true;
    return () => {
      if (open) {
        open = false;
        this.sseConnections.dec();
      }
    };
  }

  recordReadiness(ready: boolean): void {
    this.ready.set(ready ? 1 : 0);
  }

  countRetry(operation: string): void {
    this.jobRetries.inc({ operation });
  }

  countFailure(code: string): void {
    this.objectFailures.inc({ code });
  }

  countWebhookAttempt(outcome: 'delivered' | 'failed'): void {
    this.webhookAttempts.inc({ outcome });
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  onModuleDestroy(): void {
    this.registry.clear();
  }
}

function collected<T>(work: Promise<T>): Promise<T> {
  return withTimeout(work, COLLECT_TIMEOUT_MS, () => {
    throw new Error(`no answer within ${COLLECT_TIMEOUT_MS} ms`);
  });
}
