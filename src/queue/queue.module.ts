import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { SqlModule } from '../database/sql.module';
import { AppConfig } from '../config/app-config';
import { OBJECTS_QUEUE } from './jobs';
import { MAINTENANCE_QUEUE, MaintenanceQueue } from './maintenance-queue';
import { ProcessingQueue } from './processing-queue';
import { QueueConnection, QueueConnectionModule } from './queue-connection';
import { QueuePause } from './queue-pause';

/**
 * The queues, registered through BullModule on the connection QueueConnection owns; their jobs'
 * options come from object-job.ts (objects) and MaintenanceQueue (retention), not from the queues.
 */
@Module({
  imports: [
    SqlModule,
    QueueConnectionModule,
    BullModule.forRootAsync({
      imports: [QueueConnectionModule],
      inject: [QueueConnection, AppConfig],
      useFactory: (connection: QueueConnection, config: AppConfig) => ({ connection: connection.redis, prefix: config.redis.prefix }),
    }),
    BullModule.registerQueue({ name: OBJECTS_QUEUE }, { name: MAINTENANCE_QUEUE }),
  ],
  providers: [ProcessingQueue, MaintenanceQueue, QueuePause],
  exports: [ProcessingQueue, MaintenanceQueue, QueuePause],
})
export class QueueModule {}
