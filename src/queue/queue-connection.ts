import { Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { closeGracefully } from '../common/close-gracefully';
import { AppConfig } from '../config/app-config';

/**
 * The Redis connection the queues produce and read on (never a worker's: a worker blocks and needs
 * connections of its own). Owned here rather than by BullMQ, whose own disconnect can wait forever
 * on a Redis that went away and came back: BullMQ leaves a connection it was given open, and this
 * closes it within closeGracefully's deadline. Failing fast (no offline queue) lets a request that
 * needs the queue answer 503 at once while Redis is down.
 */
@Injectable()
export class QueueConnection implements OnApplicationShutdown {
  readonly redis: Redis;

  constructor(config: AppConfig) {
    this.redis = new Redis(config.redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    // Each command that fails rejects to its caller; the connection's own error events would only repeat them.
    this.redis.on('error', () => undefined);
  }

  /** Calls `listener` each time the connection is (re)established; returns the unsubscribe. */
  onReady(listener: () => void): () => void {
    this.redis.on('ready', listener);
    return () => this.redis.off('ready', listener);
  }

  async onApplicationShutdown(): Promise<void> {
    await closeGracefully(
      () => this.redis.quit(),
      () => this.redis.disconnect(),
    );
  }
}

/** The connection options of a worker: BullMQ builds and owns its blocking connections, which must wait on Redis for ever. */
export function workerConnection(config: AppConfig): ConnectionOptions {
  return { url: config.redis.url, maxRetriesPerRequest: null };
}

@Module({ providers: [QueueConnection], exports: [QueueConnection] })
export class QueueConnectionModule {}
