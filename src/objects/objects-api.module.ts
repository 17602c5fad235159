import { Module } from '@nestjs/common';
import { ObjectsController } from './objects.controller';
import { ObjectsModule } from './objects.module';

/** The objects endpoints, for processes that serve the API. */
@Module({ imports: [ObjectsModule], controllers: [ObjectsController] })
export class ObjectsApiModule {}
