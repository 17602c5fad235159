import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { toProgressView } from '../objects/object.presenter';
import { MetricsService } from '../metrics/metrics.service';
import { sendWebhook } from './webhook-sender';
import { ClaimedDelivery, WebhooksRepository } from './webhooks.repository';

/** Deliveries attempted at once by one worker process. */
const DISPATCH_BATCH = 20;

/**
 * Delivers webhooks from the deliveries table, which the database fills in the transaction of each settling
 * event: every poll claims the due deliveries (skipping those another worker holds), sends them, and records
 * each outcome. A claim lapses after two request timeouts, so a delivery whose worker died is sent again:
 * delivery is at least once, and receivers drop repeats by `webhook-id`.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly config: AppConfig,
    private readonly webhooks: WebhooksRepository,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.dispatch()
        .catch((error: Error) => this.logger.warn(`Webhook dispatch skipped: ${error.message}`))
        .finally(() => (this.running = undefined));
    }, this.config.webhooks.pollIntervalMs);
  }

  /** Sends every due delivery, a batch at a time. */
  async dispatch(): Promise<void> {
    const leaseMs = 2 * this.config.webhooks.timeoutMs + 1000;
    for (;;) {
      const batch = await this.webhooks.claimDue(DISPATCH_BATCH, leaseMs);
      await Promise.all(batch.map((delivery) => this.attempt(delivery)));
      if (batch.length < DISPATCH_BATCH || this.timer === undefined) {
        return;
      }
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const { webhooks: limits } = this.config;
    const body = JSON.stringify({
      type: `object.${delivery.event}`,
      timestamp: delivery.eventAt.toISOString(),
      data: toProgressView({ ...delivery.object, ...delivery.snapshot }),
    });
    const outcome = await sendWebhook({ url: delivery.url, secret: delivery.secret, id: delivery.id, body }, limits);
    this.metrics.countWebhookAttempt(outcome.delivered ? 'delivered' : 'failed');
    if (outcome.delivered) {
      await this.webhooks.recordDelivered(delivery.id, delivery.attempts, outcome.statusCode);
      return;
    }
    const delayMs = Math.min(limits.retryBaseMs * 2 ** (delivery.attempts - 1), limits.retryMaxDelayMs);
    await this.webhooks.recordFailed(delivery.id, delivery.attempts, { ...outcome, delayMs, windowSeconds: limits.retryWindowSeconds });
    this.logger.warn(
      `Webhook delivery ${delivery.id} (object ${delivery.object.id}, ${delivery.event}) attempt ${delivery.attempts} failed: ${outcome.error}`,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
