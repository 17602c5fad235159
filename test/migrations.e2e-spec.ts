import { Client } from 'pg';
import { AppConfig } from '../src/config/app-config';
import { migrateDatabase } from '../src/database/migrate';
import { dropDatabase, testDatabaseUrl } from './test-environment';

/** Every new API and worker pod migrates in its init container, so several processes migrate the same database at once. */
describe('migrating', () => {
  const databaseUrl = testDatabaseUrl(`${process.env.TEST_RUN_ID}_concurrent`);

  afterAll(async () => {
    await dropDatabase(databaseUrl);
  });

  it('from several processes at once, on a cluster without the database yet, creates it, applies each migration exactly once, and every process succeeds', async () => {
    const config = new AppConfig({ ...process.env, DATABASE_URL: databaseUrl });
    const runs = await Promise.all([1, 2, 3, 4].map(() => migrateDatabase(config)));
    const applied = runs.flat();
    expect(applied.length).toBeGreaterThanOrEqual(2);
    expect(new Set(applied).size).toBe(applied.length);
    expect(runs.filter((run) => run.length > 0)).toHaveLength(1);

    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const tables = await client.query(
        `select table_name from information_schema.tables where table_schema = 'public' and table_name in ('processing_objects', 'object_events')`,
      );
      expect(tables.rows.map((row: { table_name: string }) => row.table_name).sort()).toEqual(['object_events', 'processing_objects']);
    } finally {
      await client.end();
    }
  });
});
