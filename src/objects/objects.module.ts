import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module';
import { OperationCatalogModule } from '../operations/operation-catalog';
import { QueueModule } from '../queue/queue.module';
import { StorageModule } from '../storage/storage.module';
import { ArtifactsService } from './artifacts.service';
import { SqlModule } from '../database/sql.module';
import { ObjectEventsRepository } from './object-events.repository';
import { ObjectStateStore } from './object-state-store';
import { ObjectsRepository } from './objects.repository';
import { ObjectsService } from './objects.service';
import { TeamQueueCap } from './team-queue-cap';

@Module({
  imports: [OperationCatalogModule, SqlModule, QueueModule, NotificationsModule, StorageModule],
  providers: [ObjectsRepository, ObjectStateStore, ObjectEventsRepository, ObjectsService, ArtifactsService, TeamQueueCap],
  exports: [ObjectsRepository, ObjectStateStore, ObjectEventsRepository, ObjectsService, ArtifactsService, TeamQueueCap],
})
export class ObjectsModule {}
