import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config';
import { closeGracefully } from '../common/close-gracefully';

/** The process's Redis connections outside BullMQ: one for commands and publishing, one for subscriptions. */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly client: Redis;
  private subscriberConnection?: Redis;

  constructor(private readonly config: AppConfig) {
    this.client = new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
    // Without a listener ioredis prints every failed reconnect attempt; a Redis that is down shows as failed commands, which their callers log.
    this.client.on('error', () => undefined);
  }

  key(name: string): string {
    return `${this.config.redis.prefix}:${name}`;
  }

  get subscriber(): Redis {
    if (!this.subscriberConnection) {
      this.subscriberConnection = new Redis(this.config.redis.url, { maxRetriesPerRequest: null });
      // As for the client: a failed SUBSCRIBE is logged where it is sent (ObjectNotifications).
      this.subscriberConnection.on('error', () => undefined);
    }
    return this.subscriberConnection;
  }

  async onApplicationShutdown(): Promise<void> {
    const connections = [this.client, ...(this.subscriberConnection ? [this.subscriberConnection] : [])];
    await Promise.all(
      connections.map((connection) =>
        closeGracefully(
          () => connection.quit(),
          () => connection.disconnect(),
        ),
      ),
    );
  }
}
