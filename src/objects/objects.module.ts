import { Module } from '@nestjs/common';
import { OperationsModule } from '../operations/operations.module';
import { ArtifactsService } from './artifacts.service';
import { ObjectsRepository } from './objects.repository';
import { ObjectsService } from './objects.service';

@Module({
  imports: [OperationsModule],
  providers: [ObjectsRepository, ObjectsService, ArtifactsService],
  exports: [ObjectsRepository, ObjectsService, ArtifactsService],
})
export class ObjectsModule {}
