import { Module } from '@nestjs/common';
import { QueueController } from './queue.controller';
import { QueueModule } from './queue.module';

@Module({ imports: [QueueModule], controllers: [QueueController] })
export class QueueApiModule {}
