import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import type { Principal } from '../access/principal';
import { visibleTeam } from '../access/principal';
import { DependencyUnavailableError } from '../common/domain-errors';
import { ObjectsService } from '../objects/objects.service';
import type { ObjectWebhook } from '../objects/processing-object.entity';
import { DestinationRefusal, parseWebhookUrl, resolveDestination } from './webhook-destination';
import { WebhookDestinationRefusedError, WebhookNotFoundError } from './webhook-errors';
import { WEBHOOK_EVENTS, type WebhookEvent } from './webhook-events';
import { newWebhookSecret } from './webhook-signature';
import { Webhook, WebhookDelivery, WebhooksRepository } from './webhooks.repository';

/** Team webhooks (created, listed, deleted by their team) and the checks every webhook destination passes. */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly config: AppConfig,
    private readonly webhooks: WebhooksRepository,
    private readonly objects: ObjectsService,
  ) {}

  async create(target: { url: string; events?: WebhookEvent[] }, caller: Principal): Promise<Webhook> {
    await this.checkDestination('url', target.url);
    const webhook: Webhook = {
      id: randomUUID(),
      team: caller.team,
      url: target.url,
      events: eventsOf(target.events),
      secret: newWebhookSecret(),
      createdAt: new Date(),
    };
    await this.webhooks.create(webhook);
    return webhook;
  }

  list(caller: Principal): Promise<Webhook[]> {
    return this.webhooks.list(visibleTeam(caller));
  }

  /** Another team's webhook is 404, as if it did not exist. */
  async getVisible(id: string, caller: Principal): Promise<Webhook> {
    const webhook = await this.webhooks.findVisible(id, visibleTeam(caller));
    if (!webhook) {
      throw new WebhookNotFoundError(id);
    }
    return webhook;
  }

  async delete(id: string, caller: Principal): Promise<void> {
    await this.getVisible(id, caller);
    await this.webhooks.delete(id);
  }

  async deliveriesOf(id: string, caller: Principal, limit: number): Promise<WebhookDelivery[]> {
    await this.getVisible(id, caller);
    return this.webhooks.deliveriesOfWebhook(id, limit);
  }

  /** An object the caller may not see is 404, as if it did not exist. */
  async deliveriesOfObject(objectId: string, caller: Principal, limit: number): Promise<WebhookDelivery[]> {
    await this.objects.getVisible(objectId, caller);
    return this.webhooks.deliveriesOfObject(objectId, limit);
  }

  /** A submission's own webhook, checked, with a new signing secret. */
  async objectWebhook(target: { url: string; events?: WebhookEvent[] }): Promise<ObjectWebhook> {
    await this.checkDestination('webhook.url', target.url);
    return { url: target.url, events: eventsOf(target.events), secret: newWebhookSecret() };
  }

  /** Refuses (400) a URL that is malformed or whose host resolves where webhooks may not go. */
  private async checkDestination(field: string, url: string): Promise<void> {
    try {
      await resolveDestination(parseWebhookUrl(url), this.config.webhooks);
    } catch (error) {
      if (error instanceof DestinationRefusal) {
        throw new WebhookDestinationRefusedError(field, error.message);
      }
      throw new DependencyUnavailableError('DNS resolution', error);
    }
  }
}

function eventsOf(events: WebhookEvent[] | undefined): WebhookEvent[] {
  return events ? WEBHOOK_EVENTS.filter((event) => events.includes(event)) : [...WEBHOOK_EVENTS];
}
