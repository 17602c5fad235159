import { Migration } from '@mikro-orm/migrations';

export class Migration20261208000000FinerIdentifierStatistics extends Migration {
  override name = 'Migration20261208000000FinerIdentifierStatistics';

  override up(): void {
    // A list filtered by identifier prefix is planned from the column's histogram. With PostgreSQL's default
    // 100 buckets, each bucket is 1 % of the rows, so the estimate for a prefix holding 1.8 % of a million rows
    // swung between 8,900 and 26,700 from one ANALYZE to the next; at the low end the planner sorted every
    // matching row instead of walking the newest first (first page p50 122 ms instead of 6). With 1,000 buckets
    // the estimate stays within 1 %; ANALYZE of a million rows takes about 8 s instead of 0.7.
    this.addSql('alter table processing_objects alter column identifier set statistics 1000');
  }

  override down(): void {
    this.addSql('alter table processing_objects alter column identifier set statistics -1');
  }
}
