import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AccessModule } from './access/access.module';
import type { AppRole } from './app-role';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { HealthModule } from './health/health.module';
import { LifecycleModule } from './common/lifecycle.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { QueueModule } from './queue/queue.module';

/**
 * One code base, three roles: the API, the worker, or both in one process (`roles`: those `config` runs).
 * Every role serves the health probes and /metrics; a worker-only process serves nothing else over HTTP.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, roles: readonly AppRole[]): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // The rest of the graph comes in through what these import; these are what bootstrap.ts takes from the application.
        ConfigModule.forRoot(config),
        LoggingModule,
        DatabaseModule,
        QueueModule,
        LifecycleModule,
        AccessModule,
        HealthModule,
        MetricsModule,
        ...roles.map((role) => role.module(config)),
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpExceptionFilter }],
    };
  }
}
