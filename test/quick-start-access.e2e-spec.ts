import { randomUUID } from 'node:crypto';
import { closeDatabase, query } from './support/database';
import { START_LOCAL, ServiceProcess, freePort, spawnService } from './support/service-process';
import { uniquePrefix } from './support/test-app';

/** npm start as a new user runs it (after its install and build step), on a database of its own. */
describe("npm start's first API key", () => {
  const database = `object_processing_quickstart_${randomUUID().slice(0, 8)}`;
  const databaseUrl = new URL(process.env.DATABASE_URL!);
  databaseUrl.pathname = `/${database}`;
  const prefix = uniquePrefix();

  async function start(): Promise<{ service: ServiceProcess; baseUrl: string }> {
    const port = await freePort();
    const env = {
      ...(process.env as Record<string, string>),
      AUTH_REQUIRED: 'true',
      LOG_LEVEL: 'log',
      DATABASE_URL: databaseUrl.toString(),
      REDIS_PREFIX: prefix,
      PORT: String(port),
      HOST: '127.0.0.1',
    };
    const service = spawnService(env, { script: START_LOCAL });
    await service.waitForOutput(/Listening on/, 60_000);
    return { service, baseUrl: `http://127.0.0.1:${port}` };
  }

  afterAll(async () => {
    await query(`drop database if exists ${database} with (force)`);
    await closeDatabase();
  });

  it('is created and printed once on a fresh database, works at once, and is not made again on the next start', async () => {
    const first = await start();
    let key: string;
    try {
      key = /^ {2}(opsk_\S+)$/m.exec(first.service.output())?.[1] ?? '';
      expect(key).toMatch(/^opsk_[0-9a-f]{32}_[\w-]{43}$/);
      expect(first.service.output()).toContain("Created the first API key (admin, team 'default')");

      const refused = await fetch(`${first.baseUrl}/api/v1/objects`);
      expect(refused.status).toBe(401);
      const listed = await fetch(`${first.baseUrl}/api/v1/objects`, { headers: { authorization: `Bearer ${key}` } });
      expect(listed.status).toBe(200);
      const root = (await (await fetch(`${first.baseUrl}/`)).json()) as { authentication: string };
      expect(root.authentication).toBe('api_key');
    } finally {
      await first.service.stop();
    }

    const second = await start();
    try {
      expect(second.service.output()).not.toContain('opsk_');
      const listed = await fetch(`${second.baseUrl}/api/v1/objects`, { headers: { authorization: `Bearer ${key}` } });
      expect(listed.status).toBe(200);
    } finally {
      await second.service.stop();
    }
  });
});
