import { WebhooksModule } from '../webhooks/webhooks.module';
import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { EventsModule } from '../events/events.module';
import { MetricsModule } from '../metrics/metrics.module';
import { ObjectsModule } from '../objects/objects.module';
import { OperationsModule } from '../operations/operations.module';
import { QueueModule } from '../queue/queue.module';
import { RetentionModule } from '../retention/retention.module';
import { StorageModule } from '../storage/storage.module';
import { ProcessingController } from './processing.controller';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';
import { ObjectEventFeeds } from './object-event-feeds';
import { ProgressStream } from './progress-stream';
import { ProgressService } from './progress.service';
import { QueueWait } from './queue-wait';
import { StatusService } from './status.service';
import { StreamSlots } from './stream-slots';
import { SubmissionService } from './submission.service';

@Module({
  imports: [ObjectsModule, OperationsModule, AccessModule, WebhooksModule, RetentionModule, QueueModule, StorageModule, EventsModule, MetricsModule],
  controllers: [ProcessingController],
  providers: [QueueWait, SubmissionService, IdempotencyKeysRepository, ProgressStream, ObjectEventFeeds, StreamSlots, ProgressService, StatusService],
})
export class ProcessingModule {}
