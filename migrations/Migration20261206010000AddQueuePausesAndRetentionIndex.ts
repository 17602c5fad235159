import { Migration } from '@mikro-orm/migrations';

export class Migration20261206010000AddQueuePausesAndRetentionIndex extends Migration {
  override name = 'Migration20261206010000AddQueuePausesAndRetentionIndex';

  override up(): void {
    // One row per paused queue (keyed by REDIS_PREFIX and queue name, so deployments sharing a database keep
    // their own); no row means running. The source of truth for the pause: BullMQ's flag in Redis follows it.
    this.addSql(`
      create table queue_pauses (
        queue varchar(200) collate "C" primary key,
        mode text not null check (mode in ('drain', 'stop')),
        reason text not null,
        paused_at timestamptz not null default now(),
        paused_by_key_id uuid null,
        paused_by_key_name text not null
      )`);
    // Retention reads settled objects oldest-finished first, in batches.
    this.addSql('create index processing_objects_finished_at_idx on processing_objects (finished_at)');
  }

  override down(): void {
    this.addSql('drop index processing_objects_finished_at_idx');
    this.addSql('drop table queue_pauses');
  }
}
