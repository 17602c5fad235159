import { Module } from '@nestjs/common';
import { SqlModule } from '../database/sql.module';
import { ObjectsModule } from '../objects/objects.module';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/** Webhooks and their deliveries: what the API (registration, submissions) and the worker (delivery) share. */
@Module({
  imports: [SqlModule, ObjectsModule],
  providers: [WebhooksRepository, WebhooksService],
  exports: [WebhooksRepository, WebhooksService],
})
export class WebhooksModule {}
