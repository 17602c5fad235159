import { MikroORM } from '@mikro-orm/postgresql';
import { AppConfig } from '../config/app-config';
import { mikroOrmOptions } from '../database/mikro-orm.options';
import { ApiKeysService } from './api-keys.service';

/** API keys outside the application (the keys command, `npm start`'s first key): one short-lived connection pool. */
export async function withApiKeys<T>(config: AppConfig, work: (apiKeys: ApiKeysService) => Promise<T>): Promise<T> {
  const orm = await MikroORM.init(mikroOrmOptions(config));
  try {
    return await work(new ApiKeysService(orm.em, config));
  } finally {
    await orm.close(true);
  }
}

/**
 * For `npm start`: with access control on and no key ever created (a new database), creates an admin key of the
 * default team and returns it, to be shown once; otherwise null (keys that were all revoked stay revoked).
 */
export async function createFirstKeyIfNone(config: AppConfig): Promise<string | null> {
  if (!config.access.required) {
    return null;
  }
  return withApiKeys(config, async (apiKeys) => {
    if ((await apiKeys.countAll()) > 0) {
      return null;
    }
    const { secret } = await apiKeys.create({ name: 'local development', team: 'default', scopes: ['admin'] });
    return secret;
  });
}
