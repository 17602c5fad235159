import { WebhooksModule } from '../webhooks/webhooks.module';
import { Module } from '@nestjs/common';
import { SqlModule } from '../database/sql.module';
import { AccessModule } from '../access/access.module';
import { ObjectsModule } from '../objects/objects.module';
import { OperationsModule } from '../operations/operations.module';
import { RetentionModule } from '../retention/retention.module';
import { ProcessingController } from './processing.controller';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';
import { ProgressFeeds } from './progress-feeds';
import { ProgressStream } from './progress-stream';
import { QueueWait } from './queue-wait';
import { StreamSlots } from './stream-slots';
import { SubmissionService } from './submission.service';

@Module({
  imports: [ObjectsModule, OperationsModule, AccessModule, WebhooksModule, RetentionModule, SqlModule],
  controllers: [ProcessingController],
  providers: [QueueWait, SubmissionService, IdempotencyKeysRepository, ProgressStream, ProgressFeeds, StreamSlots],
})
export class ProcessingModule {}
