import { Global, Module } from '@nestjs/common';
import { ProcessingQueue } from './processing-queue';

@Global()
@Module({ providers: [ProcessingQueue], exports: [ProcessingQueue] })
export class QueueModule {}
