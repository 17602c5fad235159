import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { Sql } from '../database/sql';
import { withTimeout } from '../common/with-timeout';
import { RedisService } from '../redis/redis.service';
import { StorageService } from '../storage/storage.service';

const PROBE_TIMEOUT_MS = 2000;

/** Readiness probes of PostgreSQL, Redis and S3, each bounded by a timeout. */
@Injectable()
export class DependencyProbes {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly sql: Sql,
    private readonly redis: RedisService,
    private readonly storage: StorageService,
  ) {}

  database(): Promise<HealthIndicatorResult> {
    return this.probe('database', () => this.sql.query('select 1'));
  }

  redisServer(): Promise<HealthIndicatorResult> {
    return this.probe('redis', () => this.redis.client.ping());
  }

  objectStorage(): Promise<HealthIndicatorResult> {
    return this.probe('s3', (signal) => this.storage.ping(signal));
  }

  /** The dependencies that do not answer now: `database`, `redis`, `s3`. */
  async unreachable(): Promise<string[]> {
    const results = await Promise.all([this.database(), this.redisServer(), this.objectStorage()]);
    return results.flatMap((result) =>
      Object.entries(result)
        .filter(([, status]) => status.status === 'down')
        .map(([key]) => key),
    );
  }

  private async probe(key: string, check: (signal: AbortSignal) => Promise<unknown>): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(key);
    const controller = new AbortController();
    try {
      await withTimeout(check(controller.signal), PROBE_TIMEOUT_MS, () => {
        controller.abort();
        throw new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`);
      });
      return session.up();
    } catch (error) {
      return session.down({ message: (error as Error).message || 'unreachable' });
    }
  }
}
