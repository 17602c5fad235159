import { Migration } from '@mikro-orm/migrations';

export class Migration20261122000000CreateProcessingObjects extends Migration {
  override name = 'Migration20261122000000CreateProcessingObjects';

  override up(): void {
    this.addSql(`
      create table processing_objects (
        id uuid primary key,
        identifier varchar(200) collate "C" not null,
        state text not null check (state in ('pending', 'queued', 'processing', 'completed', 'failed', 'cancelled')),
        operations jsonb not null,
        plan jsonb not null,
        current_operation text null,
        progress jsonb not null,
        operations_status jsonb not null default '{}',
        s3_artifacts jsonb not null default '{}',
        error_message text null,
        error_code text null,
        task_id text null,
        source jsonb null,
        metadata jsonb not null default '{}',
        options jsonb not null default '{}',
        priority integer not null default 5,
        attempts integer not null default 0,
        idempotency_key text null,
        request_hash text null,
        version integer not null default 1,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        started_at timestamptz null,
        finished_at timestamptz null,
        constraint processing_objects_identifier_unique unique (identifier)
      )`);
    this.addSql('create index processing_objects_created_idx on processing_objects (created_at desc, id desc)');
    this.addSql('create index processing_objects_state_created_idx on processing_objects (state, created_at desc, id desc)');
    this.addSql('create index processing_objects_plan_idx on processing_objects using gin (plan jsonb_path_ops)');
  }

  override down(): void {
    this.addSql('drop table processing_objects');
  }
}
