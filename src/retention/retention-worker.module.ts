import { Module } from '@nestjs/common';
import { RetentionModule } from './retention.module';
import { RetentionScheduler } from './retention-scheduler';
import { RetentionSweep } from './retention-sweep';

/** Imported only by processes that run the worker role: the scheduler's worker runs retention. */
@Module({ imports: [RetentionModule], providers: [RetentionSweep, RetentionScheduler] })
export class RetentionWorkerModule {}
