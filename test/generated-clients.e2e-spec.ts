import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const CONTRACT_PATH = join(ROOT, 'openapi', 'openapi.json');

/** Ordinary code against openapi-typescript's types, used through openapi-fetch. */
const OPENAPI_TYPESCRIPT_CLIENT = `
import createClient from 'openapi-fetch';
import type { components, paths } from './openapi-typescript/api';

type ErrorResponse = components['schemas']['ErrorResponse'];
type ObjectSourceResponse = components['schemas']['ObjectSourceResponse'];

const client = createClient<paths>({ baseUrl: 'http://localhost:3000' });

export async function submitWithoutPriority(identifier: string): Promise<string> {
  const { data, error } = await client.POST('/api/v1/process', { body: { identifier, operations: ['validate', 'analyze'], payload: [{ a: 1 }] } });
  if (error) {
    const refusal: ErrorResponse = error;
    throw new Error(refusal.code === 'identifier_taken' ? \`taken: \${JSON.stringify(refusal.details)}\` : refusal.message);
  }
  return data.id;
}

export async function retryFromScratch(id: string): Promise<string | undefined> {
  const { data } = await client.POST('/api/v1/objects/{object_id}/retry', { params: { path: { object_id: id }, query: { from_scratch: true } } });
  return data?.state;
}

export async function sourceOf(object: string): Promise<ObjectSourceResponse | null> {
  const { data, error } = await client.GET('/api/v1/objects/{object}', { params: { path: { object } } });
  if (error) throw new Error(error.message);
  return data.source === null ? null : data.source;
}

export async function sourceSize(object: string): Promise<number> {
  const source = await sourceOf(object);
  return source ? source.size : 0;
}

export async function analyzedSince(since: Date): Promise<string[]> {
  const { data } = await client.GET('/api/v1/objects', { params: { query: { created_after: since.toISOString(), operation: 'analyze', limit: 50 } } });
  return (data?.items ?? []).map((item) => item.identifier);
}

export async function unknownOperation(identifier: string): Promise<void> {
  // @ts-expect-error the contract lists the operations a request may name
  await client.POST('/api/v1/process', { body: { identifier, operations: ['resize'] } });
}
`;

/** Ordinary code against @hey-api/openapi-ts's SDK, including a multipart upload. */
const HEY_API_CLIENT = `
import { client } from './hey-api/client.gen';
import { objectsControllerDelete, objectsControllerGet, objectsControllerRetry, processingControllerSubmit, processingControllerUpload } from './hey-api/sdk.gen';
import type { ErrorResponse, ObjectSourceResponse } from './hey-api/types.gen';

client.setConfig({ baseUrl: 'http://localhost:3000' });

export async function submitWithoutPriority(identifier: string): Promise<string> {
  const { data, error } = await processingControllerSubmit({ body: { identifier, operations: ['validate', 'analyze'] }, headers: { 'idempotency-key': identifier } });
  if (error) {
    const refusal: ErrorResponse = error;
    throw new Error(refusal.code === 'identifier_taken' ? \`taken: \${JSON.stringify(refusal.details)}\` : refusal.message);
  }
  return data!.id;
}

export async function uploadCsv(identifier: string, csv: string): Promise<string | undefined> {
  const { data, error } = await processingControllerUpload({
    body: { identifier, operations: ['validate', 'export'], priority: 7, file: new Blob([csv], { type: 'text/csv' }) },
  });
  if (error) throw new Error(error.message);
  return data?.id;
}

export async function retryFromScratch(id: string): Promise<string | undefined> {
  const { data } = await objectsControllerRetry({ path: { object_id: id }, query: { from_scratch: true } });
  return data?.state;
}

export async function sourceOf(object: string): Promise<ObjectSourceResponse | null> {
  const { data } = await objectsControllerGet({ path: { object } });
  return data ? data.source : null;
}

export async function remove(object: string): Promise<number | undefined> {
  const { response } = await objectsControllerDelete({ path: { object } });
  return response?.status;
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'es2023',
    lib: ['es2023', 'dom', 'dom.iterable'],
    module: 'esnext',
    moduleResolution: 'bundler',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  },
  include: ['*.ts', 'openapi-typescript', 'hey-api'],
};

function run(what: string, args: string[], cwd: string): void {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${what} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
}

/**
 * Clients generated from the committed openapi/openapi.json with each generator's default options
 * compile the code a user would write: submit without a priority, retry with a boolean, a nullable
 * source, a typed 409 body, a multipart upload (hey-api; openapi-typescript types `format: binary` as a string).
 */
describe('clients generated from the committed contract', () => {
  let workspace: string;

  beforeAll(() => {
    // Under node_modules so the generated code and the client files resolve openapi-fetch like an application would.
    const cache = join(ROOT, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    workspace = mkdtempSync(join(cache, 'generated-clients-'));
  });

  afterAll(() => {
    rmSync(workspace, { recursive: true, force: true });
  });

  it('openapi-typescript and @hey-api/openapi-ts, with default options, generate clients that ordinary code compiles against', () => {
    mkdirSync(join(workspace, 'openapi-typescript'));
    run(
      'openapi-typescript',
      [
        join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'),
        CONTRACT_PATH,
        '-o',
        join(workspace, 'openapi-typescript', 'api.ts'),
      ],
      workspace,
    );
    run(
      '@hey-api/openapi-ts',
      [join(ROOT, 'node_modules', '@hey-api', 'openapi-ts', 'bin', 'run.js'), '-i', CONTRACT_PATH, '-o', join(workspace, 'hey-api')],
      workspace,
    );
    writeFileSync(join(workspace, 'openapi-typescript-client.ts'), OPENAPI_TYPESCRIPT_CLIENT);
    writeFileSync(join(workspace, 'hey-api-client.ts'), HEY_API_CLIENT);
    writeFileSync(join(workspace, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    run('tsc', [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(workspace, 'tsconfig.json')], workspace);
  }, 120_000);
});
