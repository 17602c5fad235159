import { Migration } from '@mikro-orm/migrations';

export class Migration20261206000000CreateWebhooks extends Migration {
  override name = 'Migration20261206000000CreateWebhooks';

  override up(): void {
    // A submission's own webhook ({url, events, secret}), written in the statement that creates the object.
    this.addSql('alter table processing_objects add column webhook jsonb null');
    // A team's webhooks. The secret signs deliveries, so it is kept as it is (not hashed); it is shown once, at creation.
    this.addSql(`
      create table webhooks (
        id uuid primary key,
        team varchar(100) collate "C" not null,
        url text not null,
        events jsonb not null,
        secret text not null,
        created_at timestamptz not null default now()
      )`);
    this.addSql('create index webhooks_team_idx on webhooks (team, created_at, id)');
    // One row per (destination, settling event): the outbox the worker delivers from. webhook_id is null for the object's own webhook.
    this.addSql(`
      create table webhook_deliveries (
        id uuid primary key,
        webhook_id uuid null references webhooks (id) on delete cascade,
        object_id uuid not null,
        event_seq integer not null,
        event text not null,
        status text not null default 'pending',
        attempts integer not null default 0,
        last_status_code integer null,
        last_error text null,
        next_attempt_at timestamptz null,
        created_at timestamptz not null default now(),
        delivered_at timestamptz null,
        constraint webhook_deliveries_event_foreign foreign key (object_id, event_seq) references object_events (object_id, seq) on delete cascade
      )`);
    this.addSql(`create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where status = 'pending'`);
    this.addSql('create index webhook_deliveries_webhook_idx on webhook_deliveries (webhook_id, created_at desc, id desc)');
    this.addSql('create index webhook_deliveries_object_idx on webhook_deliveries (object_id, created_at desc, id desc)');
    // A trigger, not application code: the deliveries of a settling event are written in the transaction that records the event,
    // whichever statement records it (a worker's, the API's cancel, the reconciler's), so no crash can separate the two.
    this.addSql(`
      create function webhook_deliveries_for_event() returns trigger language plpgsql as $$
      begin
        insert into webhook_deliveries (id, webhook_id, object_id, event_seq, event, next_attempt_at)
          select gen_random_uuid(), webhooks.id, new.object_id, new.seq, new.snapshot ->> 'state', now()
            from processing_objects join webhooks on webhooks.team = processing_objects.team
           where processing_objects.id = new.object_id and webhooks.events ? (new.snapshot ->> 'state');
        insert into webhook_deliveries (id, webhook_id, object_id, event_seq, event, next_attempt_at)
          select gen_random_uuid(), null, new.object_id, new.seq, new.snapshot ->> 'state', now()
            from processing_objects
           where id = new.object_id and webhook -> 'events' ? (new.snapshot ->> 'state');
        return null;
      end
      $$`);
    this.addSql(`
      create trigger object_events_webhook_deliveries after insert on object_events for each row
        when (new.kind = 'state_changed' and new.snapshot ->> 'state' in ('completed', 'failed', 'cancelled'))
        execute function webhook_deliveries_for_event()`);
  }

  override down(): void {
    this.addSql('drop trigger object_events_webhook_deliveries on object_events');
    this.addSql('drop function webhook_deliveries_for_event()');
    this.addSql('drop table webhook_deliveries');
    this.addSql('drop table webhooks');
    this.addSql('alter table processing_objects drop column webhook');
  }
}
