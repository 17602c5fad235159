import { Migration } from '@mikro-orm/migrations';

export class Migration20261204000000CreateIdempotencyKeys extends Migration {
  override name = 'Migration20261204000000CreateIdempotencyKeys';

  override up(): void {
    // While the submission that claimed the key runs, response, request_hash and object_id are null and
    // expires_at is the claim's lease; claim_token tells that submission's own claim from a later one.
    // response is json, not jsonb: a replay answers with the very bytes of the first response, keys in their order.
    this.addSql(`
      create table idempotency_keys (
        key varchar(200) collate "C" primary key,
        request_hash text null,
        object_id uuid null,
        response json null,
        claim_token uuid not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        constraint idempotency_keys_object_id_foreign foreign key (object_id) references processing_objects (id) on delete cascade
      )`);
    this.addSql('create index idempotency_keys_object_id_index on idempotency_keys (object_id)');
    this.addSql('create index idempotency_keys_expires_at_index on idempotency_keys (expires_at)');
  }

  override down(): void {
    this.addSql('drop table idempotency_keys');
  }
}
