import { DynamicModule, Module, Type } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AccessApiModule } from './access/access-api.module';
import { AccessModule } from './access/access.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { NotificationsModule } from './notifications/notifications.module';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { validationPipe } from './common/validation.pipe';
import { HealthModule } from './health/health.module';
import { ObjectsModule } from './objects/objects.module';
import { ObjectsApiModule } from './objects/objects-api.module';
import { LifecycleModule } from './common/lifecycle.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { OperationsModule } from './operations/operations.module';
import { ProcessingModule } from './processing/processing.module';
import { QueueApiModule } from './queue/queue-api.module';
import { QueueModule } from './queue/queue.module';
import { RedisModule } from './redis/redis.module';
import { RetentionWorkerModule } from './retention/retention-worker.module';
import { RootController } from './root.controller';
import { StorageModule } from './storage/storage.module';
import { UiModule } from './ui/ui.module';
import { WebhooksApiModule } from './webhooks/webhooks-api.module';
import { WorkerModule } from './worker/worker.module';

/**
 * One code base, three roles: the API, the worker, or both in one process. Every role serves
 * the health probes and /metrics; a worker-only process serves nothing else over HTTP.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const roleModules: Type[] = [
      ...(config.runsApi ? [ProcessingModule, ObjectsApiModule, AccessApiModule, WebhooksApiModule, QueueApiModule, UiModule] : []),
      ...(config.runsWorker ? [WorkerModule, RetentionWorkerModule] : []),
    ];
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        DatabaseModule,
        RedisModule,
        NotificationsModule,
        StorageModule,
        QueueModule,
        OperationsModule,
        ObjectsModule,
        LifecycleModule,
        AccessModule,
        HealthModule,
        MetricsModule,
        ...roleModules,
      ],
      controllers: config.runsApi ? [RootController] : [],
      providers: [
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        { provide: APP_PIPE, useValue: validationPipe },
      ],
    };
  }
}
