import { Module } from '@nestjs/common';
import { ObjectsModule } from '../objects/objects.module';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/** Webhooks and their deliveries: what the API (registration, submissions) and the worker (delivery) share. */
@Module({ imports: [ObjectsModule], providers: [WebhooksRepository, WebhooksService], exports: [WebhooksRepository, WebhooksService] })
export class WebhooksModule {}
