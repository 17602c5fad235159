import { parseArgs } from 'node:util';
import { CreateApiKeyDto } from './access/dto/api-keys.dto';
import { withApiKeys } from './access/key-store';
import { toApiKeyView } from './access/api-key.presenter';
import { ValidationError } from './common/domain-errors';
import { isUuid } from './common/object-id.pipe';
import { validateBody } from './common/validation.pipe';
import { AppConfig } from './config/app-config';
import { loadEnvFile } from './startup/env-file';

const USAGE = `Usage: npm run keys -- <command>   (in the container: node dist/src/keys-cli.js <command>)
  create --name <name> --team <team> --scopes <read,write,admin>   create a key and print it (shown this once)
  list                                                             every key: id, name, team, scopes, created, revoked
  revoke <key id>                                                  revoke a key`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, team: { type: 'string' }, scopes: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return;
  }
  loadEnvFile();
  const config = new AppConfig(process.env);
  switch (command) {
    case 'create': {
      const request = await validateBody(CreateApiKeyDto, {
        name: values.name,
        team: values.team,
        scopes: values.scopes?.split(',').map((scope) => scope.trim()),
      });
      const { key, secret } = await withApiKeys(config, (apiKeys) => apiKeys.create(request));
      console.log(`Created API key ${key.id} '${key.name}' for team '${key.team}' with scopes ${key.scopes.join(', ')}.`);
      console.log('The key, shown only now (keep it secret; send it as Authorization: Bearer <key>):');
      console.log(secret);
      return;
    }
    case 'list': {
      const keys = await withApiKeys(config, (apiKeys) => apiKeys.list());
      console.table(keys.map((key) => ({ ...toApiKeyView(key), scopes: key.scopes.join(',') })));
      return;
    }
    case 'revoke': {
      if (rest.length !== 1 || !rest[0] || !isUuid(rest[0])) {
        throw new UsageError('revoke takes one key id (a UUID, as `list` shows)');
      }
      const id = rest[0];
      const key = await withApiKeys(config, (apiKeys) => apiKeys.revoke(id));
      console.log(`Revoked API key ${key.id} '${key.name}' of team '${key.team}'.`);
      return;
    }
    default:
      throw new UsageError(`Unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const misused =
    error instanceof UsageError || error instanceof ValidationError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  console.error(misused ? `${(error as Error).message}\n${USAGE}` : error instanceof Error ? error.message : error);
  process.exit(1);
});
