import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { OperationsModule } from '../operations/operations.module';
import { QueueModule } from '../queue/queue.module';
import { StorageModule } from '../storage/storage.module';
import { ArtifactsService } from './artifacts.service';
import { ObjectsRepository } from './objects.repository';
import { ObjectsService } from './objects.service';
import { TeamQueueCap } from './team-queue-cap';

@Module({
  imports: [OperationsModule, QueueModule, EventsModule, StorageModule],
  providers: [ObjectsRepository, ObjectsService, ArtifactsService, TeamQueueCap],
  exports: [ObjectsRepository, ObjectsService, ArtifactsService, TeamQueueCap],
})
export class ObjectsModule {}
