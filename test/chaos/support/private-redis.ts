import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../support/service-process';
import { waitFor } from '../../support/wait-for';
import { own, ownDirectory, removeDirectory } from './owned-processes';

/** A redis-server of this suite's own on a free port, without persistence: a restart loses every key. */
export class PrivateRedis {
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly directory: string,
  ) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), ownDirectory(mkdtempSync(join(tmpdir(), 'chaos-redis-'))));
    await redis.up();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again, empty) on the same port. */
  async up(): Promise<void> {
    this.child = own(
      spawn(
        'redis-server',
        ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.directory],
        {
          stdio: 'ignore',
        },
      ),
    );
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await waitFor(async () => (await probe.connect().then(() => probe.ping())) === 'PONG', {
        timeoutMs: 15_000,
        what: 'the private redis-server',
      });
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILL: the data in memory is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    removeDirectory(this.directory);
  }
}
