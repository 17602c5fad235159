import { Module } from '@nestjs/common';
import { MaintenanceQueue } from './maintenance-queue';
import { ProcessingQueue } from './processing-queue';
import { QueuePause } from './queue-pause';

@Module({ providers: [ProcessingQueue, MaintenanceQueue, QueuePause], exports: [ProcessingQueue, MaintenanceQueue, QueuePause] })
export class QueueModule {}
