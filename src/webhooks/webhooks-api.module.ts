import { Module } from '@nestjs/common';
import { ObjectsModule } from '../objects/objects.module';
import { WebhooksController } from './webhooks.controller';
import { WebhooksModule } from './webhooks.module';

/** The webhook endpoints, for processes that serve the API. */
@Module({ imports: [WebhooksModule, ObjectsModule], controllers: [WebhooksController] })
export class WebhooksApiModule {}
