import { Migration } from '@mikro-orm/migrations';

export class Migration20261122010000CreateObjectEvents extends Migration {
  override name = 'Migration20261122010000CreateObjectEvents';

  override up(): void {
    this.addSql(`
      create table object_events (
        object_id uuid not null,
        seq integer not null,
        kind text not null,
        operation text null,
        snapshot jsonb not null,
        created_at timestamptz not null default now(),
        primary key (object_id, seq),
        constraint object_events_object_id_foreign foreign key (object_id) references processing_objects (id) on delete cascade
      )`);
  }

  override down(): void {
    this.addSql('drop table object_events');
  }
}
