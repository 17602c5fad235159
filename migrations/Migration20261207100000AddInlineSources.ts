import { Migration } from '@mikro-orm/migrations';

export class Migration20261207100000AddInlineSources extends Migration {
  override name = 'Migration20261207100000AddInlineSources';

  override up(): void {
    // The bytes of a small JSON payload (up to PAYLOAD_INLINE_MAX_BYTES), kept with its object instead of in S3.
    this.addSql('alter table processing_objects add column source_inline bytea null');
  }

  override down(): void {
    this.addSql('alter table processing_objects drop column source_inline');
  }
}
