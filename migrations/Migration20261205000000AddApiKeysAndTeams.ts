import { Migration } from '@mikro-orm/migrations';

export class Migration20261205000000AddApiKeysAndTeams extends Migration {
  override name = 'Migration20261205000000AddApiKeysAndTeams';

  override up(): void {
    // Only a hash of each key's secret is kept; the key itself is shown once, when it is created.
    this.addSql(`
      create table api_keys (
        id uuid primary key,
        name varchar(100) not null,
        team varchar(100) collate "C" not null,
        scopes jsonb not null,
        secret_hash varchar(64) not null,
        created_at timestamptz not null default now(),
        revoked_at timestamptz null
      )`);
    // Objects created before teams existed belong to the team that access control turned off uses.
    this.addSql(`alter table processing_objects add column team varchar(100) collate "C" not null default 'default'`);
    this.addSql('create index processing_objects_team_created_idx on processing_objects (team, created_at desc, id desc)');
    this.addSql('create index processing_objects_team_state_idx on processing_objects (team, state)');
    // An Idempotency-Key is the client's own name: two teams may pick the same one.
    this.addSql(`alter table idempotency_keys add column team varchar(100) collate "C" not null default 'default'`);
    this.addSql('alter table idempotency_keys drop constraint idempotency_keys_pkey');
    this.addSql('alter table idempotency_keys add constraint idempotency_keys_pkey primary key (team, key)');
  }

  override down(): void {
    this.addSql('alter table idempotency_keys drop constraint idempotency_keys_pkey');
    this.addSql('alter table idempotency_keys drop column team');
    this.addSql('alter table idempotency_keys add constraint idempotency_keys_pkey primary key (key)');
    this.addSql('drop index processing_objects_team_state_idx');
    this.addSql('drop index processing_objects_team_created_idx');
    this.addSql('alter table processing_objects drop column team');
    this.addSql('drop table api_keys');
  }
}
