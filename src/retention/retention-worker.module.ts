import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { QueueModule } from '../queue/queue.module';
import { StorageModule } from '../storage/storage.module';
import { RetentionModule } from './retention.module';
import { RetentionScheduler } from './retention-scheduler';
import { RetentionSweep } from './retention-sweep';

/** Imported only by processes that run the worker role: the scheduler's worker runs retention. */
@Module({ imports: [RetentionModule, QueueModule, StorageModule, EventsModule], providers: [RetentionSweep, RetentionScheduler] })
export class RetentionWorkerModule {}
