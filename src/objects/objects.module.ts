import { Module } from '@nestjs/common';
import { OperationsModule } from '../operations/operations.module';
import { ArtifactsService } from './artifacts.service';
import { ObjectsRepository } from './objects.repository';
import { ObjectsService } from './objects.service';
import { TeamQueueCap } from './team-queue-cap';

@Module({
  imports: [OperationsModule],
  providers: [ObjectsRepository, ObjectsService, ArtifactsService, TeamQueueCap],
  exports: [ObjectsRepository, ObjectsService, ArtifactsService, TeamQueueCap],
})
export class ObjectsModule {}
