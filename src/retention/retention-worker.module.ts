import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { NotificationsModule } from '../notifications/notifications.module';
import { QueueModule } from '../queue/queue.module';
import { StorageModule } from '../storage/storage.module';
import { RetentionModule } from './retention.module';
import { retentionProcessorFor } from './retention.processor';
import { RetentionScheduler } from './retention-scheduler';
import { RetentionSweep } from './retention-sweep';

/** Imported only by processes that run the worker role; with retention off, no retention worker runs. */
@Module({})
export class RetentionWorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: RetentionWorkerModule,
      imports: [RetentionModule, QueueModule, StorageModule, NotificationsModule],
      providers: [RetentionSweep, RetentionScheduler, ...(config.retention ? [retentionProcessorFor(config)] : [])],
    };
  }
}
