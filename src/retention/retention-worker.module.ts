import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
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
      imports: [RetentionModule],
      providers: [RetentionSweep, RetentionScheduler, ...(config.retention ? [retentionProcessorFor(config)] : [])],
    };
  }
}
