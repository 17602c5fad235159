import { Global, Module } from '@nestjs/common';
import { SqlModule } from '../database/sql.module';
import { MaintenanceQueue } from './maintenance-queue';
import { ProcessingQueue } from './processing-queue';
import { QueuePause } from './queue-pause';

@Global()
@Module({ imports: [SqlModule], providers: [ProcessingQueue, MaintenanceQueue, QueuePause], exports: [ProcessingQueue, MaintenanceQueue, QueuePause] })
export class QueueModule {}
