import { Injectable } from '@nestjs/common';
import { Sql } from '../database/sql';
import type { ObjectSnapshot } from '../objects/object-event.entity';
import type { DeliveryStatus, WebhookEvent } from './webhook-events';

export interface Webhook {
  id: string;
  team: string;
  url: string;
  events: WebhookEvent[];
  secret: string;
  createdAt: Date;
}

export interface WebhookDelivery {
  id: string;
  webhookId: string | null;
  objectId: string;
  event: WebhookEvent;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** A delivery a worker has claimed for one attempt, with everything the attempt sends. */
export interface ClaimedDelivery {
  id: string;
  attempts: number;
  event: WebhookEvent;
  url: string;
  secret: string;
  object: { id: string; identifier: string; plan: string[] };
  snapshot: ObjectSnapshot;
  eventAt: Date;
}

interface WebhookRow {
  id: string;
  team: string;
  url: string;
  events: WebhookEvent[];
  secret: string;
  created_at: Date;
}

interface DeliveryRow {
  id: string;
  webhook_id: string | null;
  object_id: string;
  event: WebhookEvent;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Date | null;
  created_at: Date;
  delivered_at: Date | null;
}

interface ClaimedRow {
  id: string;
  attempts: number;
  event: WebhookEvent;
  url: string;
  secret: string;
  object_id: string;
  identifier: string;
  plan: string[];
  snapshot: ObjectSnapshot;
  event_at: Date;
}

const DELIVERY_COLUMNS =
  'id, webhook_id, object_id, event, status, attempts, last_status_code, last_error, next_attempt_at, created_at, delivered_at';

/**
 * Team webhooks and the deliveries of every webhook. Deliveries are written by the database itself
 * (the trigger of migration 20261206000000) in the transaction that records a settling event.
 */
@Injectable()
export class WebhooksRepository {
  constructor(private readonly sql: Sql) {}

  async create(webhook: Webhook): Promise<void> {
    await this.sql.query('insert into webhooks (id, team, url, events, secret, created_at) values (?, ?, ?, ?, ?, ?)', [
      webhook.id,
      webhook.team,
      webhook.url,
      JSON.stringify(webhook.events),
      webhook.secret,
      webhook.createdAt,
    ]);
  }

  /** A team's webhooks, oldest first; every team's when `team` is undefined. */
  async list(team: string | undefined): Promise<Webhook[]> {
    const rows = await this.sql.query<WebhookRow>(
      `select * from webhooks ${team === undefined ? '' : 'where team = ?'} order by created_at, id`,
      team === undefined ? [] : [team],
    );
    return rows.map(toWebhook);
  }

  /** The webhook, when `team` may see it (undefined: any team). */
  async findVisible(id: string, team: string | undefined): Promise<Webhook | null> {
    const rows = await this.sql.query<WebhookRow>(
      `select * from webhooks where id = ? ${team === undefined ? '' : 'and team = ?'}`,
      team === undefined ? [id] : [id, team],
    );
    return rows[0] ? toWebhook(rows[0]) : null;
  }

  async delete(id: string): Promise<void> {
    await this.sql.query('delete from webhooks where id = ?', [id]);
  }

  /** The latest deliveries of a team webhook, newest first. */
  async deliveriesOfWebhook(webhookId: string, limit: number): Promise<WebhookDelivery[]> {
    const rows = await this.sql.query<DeliveryRow>(
      `select ${DELIVERY_COLUMNS} from webhook_deliveries where webhook_id = ? order by created_at desc, id desc limit ?`,
      [webhookId, limit],
    );
    return rows.map(toDelivery);
  }

  /** The latest deliveries about an object, to its own webhook and its team's, newest first. */
  async deliveriesOfObject(objectId: string, limit: number): Promise<WebhookDelivery[]> {
    const rows = await this.sql.query<DeliveryRow>(
      `select ${DELIVERY_COLUMNS} from webhook_deliveries where object_id = ? order by created_at desc, id desc limit ?`,
      [objectId, limit],
    );
    return rows.map(toDelivery);
  }

  /**
   * Claims up to `limit` due deliveries for one attempt each: the attempt is counted, and the delivery is
   * due again after `leaseMs`, so one whose worker dies mid-attempt is tried again by another.
   */
  async claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const rows = await this.sql.query<ClaimedRow>(
      `with due as (
         select id from webhook_deliveries where status = 'pending' and next_attempt_at <= now()
          order by next_attempt_at limit ? for update skip locked
       ), claimed as (
         update webhook_deliveries set attempts = webhook_deliveries.attempts + 1, next_attempt_at = now() + ?::double precision * interval '1 millisecond'
           from due where webhook_deliveries.id = due.id
         returning webhook_deliveries.*
       )
       select claimed.id, claimed.attempts, claimed.event,
              coalesce(webhooks.url, objects.webhook ->> 'url') as url, coalesce(webhooks.secret, objects.webhook ->> 'secret') as secret,
              objects.id as object_id, objects.identifier, objects.plan, events.snapshot, events.created_at as event_at
         from claimed
         join processing_objects objects on objects.id = claimed.object_id
         join object_events events on events.object_id = claimed.object_id and events.seq = claimed.event_seq
         left join webhooks on webhooks.id = claimed.webhook_id`,
      [limit, leaseMs],
    );
    return rows.map((row) => ({
      id: row.id,
      attempts: row.attempts,
      event: row.event,
      url: row.url,
      secret: row.secret,
      object: { id: row.object_id, identifier: row.identifier, plan: row.plan },
      snapshot: row.snapshot,
      eventAt: new Date(row.event_at),
    }));
  }

  /** Records a delivered attempt; only the attempt that holds the claim (its count) records. */
  async recordDelivered(id: string, attempts: number, statusCode: number): Promise<void> {
    await this.sql.query(
      `update webhook_deliveries set status = 'delivered', delivered_at = now(), next_attempt_at = null, last_status_code = ?, last_error = null
        where id = ? and attempts = ? and status = 'pending'`,
      [statusCode, id, attempts],
    );
  }

  /**
   * Records a failed attempt: the delivery is due again after `delayMs`, or has failed for good when that is
   * past `windowSeconds` after it was created.
   */
  async recordFailed(
    id: string,
    attempts: number,
    failure: { statusCode: number | null; error: string; delayMs: number; windowSeconds: number },
  ): Promise<void> {
    await this.sql.query(
      `update webhook_deliveries
          set status = case when retry.at <= created_at + retry.within then 'pending' else 'failed' end,
              next_attempt_at = case when retry.at <= created_at + retry.within then retry.at end,
              last_status_code = ?, last_error = ?
         from (select now() + ?::double precision * interval '1 millisecond' as at, ?::double precision * interval '1 second' as within) retry
        where id = ? and attempts = ? and status = 'pending'`,
      [failure.statusCode, failure.error, failure.delayMs, failure.windowSeconds, id, attempts],
    );
  }
}

function toWebhook(row: WebhookRow): Webhook {
  return { id: row.id, team: row.team, url: row.url, events: row.events, secret: row.secret, createdAt: new Date(row.created_at) };
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    objectId: row.object_id,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at ? new Date(row.next_attempt_at) : null,
    createdAt: new Date(row.created_at),
    deliveredAt: row.delivered_at ? new Date(row.delivered_at) : null,
  };
}
