import type { WebhookDeliveryResponse, WebhookResponse } from './dto/webhooks.dto';
import type { Webhook, WebhookDelivery } from './webhooks.repository';

export function toWebhookView(webhook: Webhook): WebhookResponse {
  return { id: webhook.id, team: webhook.team, url: webhook.url, events: webhook.events, created_at: webhook.createdAt.toISOString() };
}

export function toDeliveryView(delivery: WebhookDelivery): WebhookDeliveryResponse {
  return {
    id: delivery.id,
    webhook_id: delivery.webhookId,
    object_id: delivery.objectId,
    event: delivery.event,
    status: delivery.status,
    attempts: delivery.attempts,
    last_status_code: delivery.lastStatusCode,
    last_error: delivery.lastError,
    next_attempt_at: delivery.nextAttemptAt?.toISOString() ?? null,
    created_at: delivery.createdAt.toISOString(),
    delivered_at: delivery.deliveredAt?.toISOString() ?? null,
  };
}
