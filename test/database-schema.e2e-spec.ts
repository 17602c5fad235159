import { MikroORM } from '@mikro-orm/postgresql';
import { AppConfig } from '../src/config/app-config';
import { mikroOrmOptions } from '../src/database/mikro-orm.options';

describe('the migrated database schema', () => {
  it('matches the entity definitions, so the ORM and the migrations agree', async () => {
    const orm = await MikroORM.init(mikroOrmOptions(new AppConfig(process.env)));
    try {
      const tables = await orm.em
        .getConnection()
        .execute<{ table_name: string }[]>(
          `select table_name from information_schema.tables where table_schema = 'public' and table_name in ('processing_objects', 'object_events', 'idempotency_keys', 'api_keys', 'queue_pauses') order by table_name`,
        );
      expect(tables.map((table) => table.table_name)).toEqual([
        'api_keys',
        'idempotency_keys',
        'object_events',
        'processing_objects',
        'queue_pauses',
      ]);
      const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: true });
      expect(diff.trim()).toBe('');
    } finally {
      await orm.close(true);
    }
  });
});
