import { WebhooksModule } from '../webhooks/webhooks.module';
import { Module } from '@nestjs/common';
import { SqlModule } from '../database/sql.module';
import { AccessModule } from '../access/access.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { MetricsModule } from '../metrics/metrics.module';
import { ObjectsModule } from '../objects/objects.module';
import { OperationCatalogModule } from '../operations/operation-catalog';
import { QueueModule } from '../queue/queue.module';
import { RetentionModule } from '../retention/retention.module';
import { StorageModule } from '../storage/storage.module';
import { ProcessingController } from './processing.controller';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';
import { ProgressFeeds } from './progress-feeds';
import { ProgressStream } from './progress-stream';
import { ProgressService } from './progress.service';
import { QueueWait } from './queue-wait';
import { StatusService } from './status.service';
import { StreamSlots } from './stream-slots';
import { SubmissionService } from './submission.service';

@Module({
  imports: [
    ObjectsModule,
    OperationCatalogModule,
    AccessModule,
    WebhooksModule,
    RetentionModule,
    QueueModule,
    StorageModule,
    NotificationsModule,
    MetricsModule,
    SqlModule,
  ],
  controllers: [ProcessingController],
  providers: [
    QueueWait,
    SubmissionService,
    IdempotencyKeysRepository,
    ProgressStream,
    ProgressFeeds,
    StreamSlots,
    ProgressService,
    StatusService,
  ],
})
export class ProcessingModule {}
