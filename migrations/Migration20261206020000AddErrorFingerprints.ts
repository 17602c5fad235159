import { Migration } from '@mikro-orm/migrations';

export class Migration20261206020000AddErrorFingerprints extends Migration {
  override name = 'Migration20261206020000AddErrorFingerprints';

  override up(): void {
    // Failed objects are triaged by fingerprint and by when they failed: both filters stay on an index.
    this.addSql('alter table processing_objects add column error_fingerprint varchar(16) null');
    this.addSql(
      `create index processing_objects_failed_idx on processing_objects (team, error_fingerprint, finished_at desc) where state = 'failed'`,
    );
  }

  override down(): void {
    this.addSql('drop index processing_objects_failed_idx');
    this.addSql('alter table processing_objects drop column error_fingerprint');
  }
}
