import { defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { AppConfig } from '../config/app-config';
import { ProcessingObjectSchema } from '../objects/processing-object.entity';
import { ObjectEventSchema } from '../objects/object-event.entity';
import { IdempotencyKeySchema } from '../processing/idempotency-key.entity';
import { ApiKeySchema } from '../access/api-key.entity';
import { QueuePauseSchema } from '../queue/queue-pause.entity';
import { migrationsList } from '../../migrations';

export function mikroOrmOptions(config: AppConfig) {
  return defineConfig({
    clientUrl: config.databaseUrl,
    entities: [ProcessingObjectSchema, ObjectEventSchema, IdempotencyKeySchema, ApiKeySchema, QueuePauseSchema],
    extensions: [Migrator],
    migrations: { migrationsList, transactional: true, snapshot: false },
    ensureDatabase: false,
    allowGlobalContext: false,
    pool: { min: 0, max: 10 },
  });
}
