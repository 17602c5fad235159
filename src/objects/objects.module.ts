import { Module } from '@nestjs/common';
import { OperationsModule } from '../operations/operations.module';
import { ArtifactsService } from './artifacts.service';
import { ObjectsController } from './objects.controller';
import { ObjectsRepository } from './objects.repository';
import { ObjectsService } from './objects.service';

@Module({
  imports: [OperationsModule],
  controllers: [ObjectsController],
  providers: [ObjectsRepository, ObjectsService, ArtifactsService],
  exports: [ObjectsRepository, ObjectsService, ArtifactsService],
})
export class ObjectsModule {}
