import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { Redis } from 'ioredis';
import { ServiceProcess, freePort, spawnService } from '../../support/service-process';
import { waitFor } from '../../support/wait-for';
import { own } from './owned-processes';
import { PrivatePostgres } from './private-postgres';
import { PrivateRedis } from './private-redis';
import { StoppableS3 } from './stoppable-s3';

const ROOT = join(__dirname, '..', '..', '..');

/** Settings of every service process that differ from the defaults: a killed worker's jobs come back after 5 s, not 30 s. */
export const CHAOS_SETTINGS = { WORKER_LOCK_DURATION_MS: '5000', WORKER_STALLED_INTERVAL_MS: '5000', SHUTDOWN_TIMEOUT_MS: '5000' };

export interface ClusterOptions {
  workers: number;
  maxParallelWorkers: number;
  /** Extra environment of every service process. */
  env?: Record<string, string>;
}

/** Figures of what the service processes did on their own: exits nobody asked for. */
export interface ProcessFigures {
  unexpectedExits: { role: string; code: number | null; signal: string | null; lastLines: string }[];
}

/**
 * The built service (dist/) as one API process and several worker processes, against a private
 * Redis, a temporary PostgreSQL cluster and a stoppable s3rver. A supervisor restarts any worker
 * or API that exits without being told to, as an orchestrator would, and records the exit.
 */
export class ChaosCluster {
  readonly workers: ServiceProcess[] = [];
  api!: ServiceProcess;
  apiUrl!: string;
  readonly figures: ProcessFigures = { unexpectedExits: [] };
  /** Every service process this cluster started, killed ones included, for what they logged. */
  private readonly started: ServiceProcess[] = [];
  private readonly deliberate = new WeakSet<ServiceProcess>();
  private stopping = false;
  private db?: Client;

  private constructor(
    readonly options: ClusterOptions,
    readonly redis: PrivateRedis,
    readonly postgres: PrivatePostgres,
    readonly s3: StoppableS3,
    private readonly apiPort: number,
  ) {}

  static async start(options: ClusterOptions): Promise<ChaosCluster> {
    const redis = await PrivateRedis.start();
    const postgres = await PrivatePostgres.start().catch(async (error) => {
      await redis.stop();
      throw error;
    });
    const s3 = await StoppableS3.start();
    const cluster = new ChaosCluster(options, redis, postgres, s3, await freePort());
    try {
      execFileSync(process.execPath, [join(ROOT, 'dist', 'src', 'migrate.js')], { env: cluster.env('api'), stdio: 'pipe' });
      await cluster.startApi();
      for (let index = 0; index < options.workers; index += 1) {
        cluster.startWorker();
      }
      await Promise.all(cluster.workers.map((worker) => worker.waitForOutput(/Running as role 'worker'/, 60_000)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get prefix(): string {
    return 'chaos';
  }

  env(role: 'api' | 'worker'): Record<string, string> {
    return {
      // Workers log at `log` level: their start-up line tells the harness they are running.
      LOG_LEVEL: role === 'worker' ? 'log' : 'warn',
      PATH: process.env.PATH ?? '',
      APP_ROLE: role,
      DATABASE_URL: this.postgres.url,
      REDIS_URL: this.redis.url,
      REDIS_PREFIX: this.prefix,
      ...this.s3.env,
      S3_BUCKET: 'chaos-artifacts',
      PORT: String(this.apiPort),
      HOST: '127.0.0.1',
      PROBE_PORT: '0',
      MAX_PARALLEL_WORKERS: String(this.options.maxParallelWorkers),
      // The scenarios are about crashes and outages, and their clients send no API key.
      AUTH_REQUIRED: 'false',
      ...CHAOS_SETTINGS,
      ...this.options.env,
    };
  }

  async startApi(): Promise<void> {
    this.api = this.supervise(spawnService(this.env('api')), 'api', () => void this.startApi());
    this.apiUrl = `http://127.0.0.1:${this.apiPort}`;
    await waitFor(async () => (await fetch(`${this.apiUrl}/health/live`)).ok, { timeoutMs: 60_000, what: 'the API process' });
  }

  startWorker(): ServiceProcess {
    const worker = this.supervise(spawnService(this.env('worker')), 'worker', () => {
      this.workers.splice(this.workers.indexOf(worker), 1);
      this.startWorker();
    });
    this.workers.push(worker);
    return worker;
  }

  /** SIGKILLs a process of this cluster (by its pid) without the supervisor counting it as a crash. */
  async kill(service: ServiceProcess): Promise<void> {
    this.deliberate.add(service);
    const index = this.workers.indexOf(service);
    if (index >= 0) {
      this.workers.splice(index, 1);
    }
    await service.stop('SIGKILL');
  }

  /** How many lines matching `pattern` all service processes of this cluster logged. */
  countLogged(pattern: RegExp): number {
    const global = new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`);
    return this.started.reduce((sum, service) => sum + (service.output().match(global)?.length ?? 0), 0);
  }

  private supervise(service: ServiceProcess, role: string, restart: () => void): ServiceProcess {
    own(service.child);
    this.started.push(service);
    void service.exited.then((code) => {
      if (this.stopping || this.deliberate.has(service)) {
        return;
      }
      const lastLines = service.output().split('\n').slice(-15).join('\n');
      this.figures.unexpectedExits.push({ role, code, signal: service.child.signalCode, lastLines });
      restart();
    });
    return service;
  }

  /** A client of the private PostgreSQL, reconnected after an outage. */
  async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (!this.db) {
      const client = new Client({ connectionString: this.postgres.url });
      client.on('error', () => (this.db = undefined));
      await client.connect();
      this.db = client;
    }
    try {
      return (await this.db.query<T>(sql, params)).rows;
    } catch (error) {
      await this.db?.end().catch(() => undefined);
      this.db = undefined;
      throw error;
    }
  }

  redisClient(): Redis {
    const client = new Redis(this.redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    return client;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.db?.end().catch(() => undefined);
    await Promise.all([this.api, ...this.workers].filter(Boolean).map((service) => service.stop('SIGKILL')));
    await this.redis.stop();
    this.postgres.stop();
    await this.s3.stop();
  }
}
