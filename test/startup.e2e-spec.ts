import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { closeDatabase } from './support/database';
import { freePort, spawnService } from './support/service-process';
import { TestApp, startTestApp, uniquePrefix } from './support/test-app';

/** Long enough for a process that checks its dependencies and exits; the checks themselves give up after 5 s. */
const EXIT_WAIT_MS = 20_000;

async function exitOf(service: ReturnType<typeof spawnService>): Promise<{ code: number | null; lines: string[] }> {
  const timer = setTimeout(() => service.child.kill('SIGKILL'), EXIT_WAIT_MS);
  try {
    const code = await service.exited;
    return {
      code,
      lines: service
        .output()
        .split('\n')
        .filter((line) => line.trim() !== ''),
    };
  } finally {
    clearTimeout(timer);
  }
}

describe('start-up', () => {
  const baseEnv = () => ({
    ...(process.env as Record<string, string>),
    REDIS_PREFIX: uniquePrefix(),
    APP_ROLE: 'all',
    PORT: '0',
    HOST: '127.0.0.1',
  });

  afterAll(async () => {
    await closeDatabase();
  });

  it('several processes starting at once against a missing bucket all start, and share the bucket', async () => {
    const bucket = `race-${Date.now().toString(36)}`;
    const apps: TestApp[] = await Promise.all([1, 2, 3].map(() => startTestApp({ S3_BUCKET: bucket })));
    try {
      for (const app of apps) {
        await request(app.baseUrl).get('/health/ready').expect(200);
      }
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  });

  describe('with a dependency that does not answer, exits non-zero with one line naming it, where it was looked for, and the variable', () => {
    it.each([
      [
        'PostgreSQL',
        (port: number) => ({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/object_processing` }),
        (port: number) =>
          `PostgreSQL is not reachable at postgresql://postgres@127.0.0.1:${port}/object_processing (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:${port}`,
      ],
      [
        'Redis, its password hidden',
        (port: number) => ({ REDIS_URL: `redis://:secret@127.0.0.1:${port}` }),
        (port: number) => `Redis is not reachable at redis://:***@127.0.0.1:${port} (REDIS_URL): connect ECONNREFUSED 127.0.0.1:${port}`,
      ],
      [
        'S3',
        (port: number) => ({ S3_ENDPOINT: `http://127.0.0.1:${port}` }),
        (port: number) =>
          `S3 is not reachable at http://127.0.0.1:${port} (S3_ENDPOINT): fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`,
      ],
    ])('%s', async (_dependency, pointingAt, line) => {
      const port = await freePort();
      const { code, lines } = await exitOf(spawnService({ ...baseEnv(), ...pointingAt(port) }));
      expect(code).toBe(1);
      expect(lines).toEqual([line(port)]);
    });

    it('PostgreSQL without the database: says that migrating creates it', async () => {
      const url = `postgresql://postgres@127.0.0.1:5432/never_created_${Date.now().toString(36)}`;
      const { code, lines } = await exitOf(spawnService({ ...baseEnv(), DATABASE_URL: url }));
      expect(code).toBe(1);
      expect(lines).toEqual([
        `PostgreSQL is not reachable at ${url} (DATABASE_URL): database "${new URL(url).pathname.slice(1)}" does not exist (npm run migrate creates it)`,
      ]);
    });

    it('PostgreSQL and Redis both: a line for each', async () => {
      const [databasePort, redisPort] = [await freePort(), await freePort()];
      const { code, lines } = await exitOf(
        spawnService({
          ...baseEnv(),
          DATABASE_URL: `postgresql://postgres@127.0.0.1:${databasePort}/object_processing`,
          REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        }),
      );
      expect(code).toBe(1);
      expect(lines).toEqual([
        `PostgreSQL is not reachable at postgresql://postgres@127.0.0.1:${databasePort}/object_processing (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:${databasePort}`,
        `Redis is not reachable at redis://127.0.0.1:${redisPort} (REDIS_URL): connect ECONNREFUSED 127.0.0.1:${redisPort}`,
      ]);
    });
  });

  describe('.env in the working directory', () => {
    let directory: string;

    beforeEach(() => {
      directory = mkdtempSync(join(tmpdir(), 'ops-env-'));
    });

    afterEach(() => {
      rmSync(directory, { recursive: true, force: true });
    });

    it('is read for variables the environment does not set', async () => {
      const port = await freePort();
      writeFileSync(join(directory, '.env'), `# a comment\nREDIS_URL=redis://127.0.0.1:${port}\n`);
      const env: Record<string, string> = baseEnv();
      delete env.REDIS_URL;
      const { lines } = await exitOf(spawnService(env, { cwd: directory }));
      expect(lines).toEqual([`Redis is not reachable at redis://127.0.0.1:${port} (REDIS_URL): connect ECONNREFUSED 127.0.0.1:${port}`]);
    });

    it('loses to the environment: a variable set in both takes the environment value', async () => {
      const [filePort, environmentPort] = [await freePort(), await freePort()];
      expect(filePort).not.toBe(environmentPort);
      writeFileSync(join(directory, '.env'), `REDIS_URL=redis://127.0.0.1:${filePort}\n`);
      const { lines } = await exitOf(spawnService({ ...baseEnv(), REDIS_URL: `redis://127.0.0.1:${environmentPort}` }, { cwd: directory }));
      expect(lines).toEqual([
        `Redis is not reachable at redis://127.0.0.1:${environmentPort} (REDIS_URL): connect ECONNREFUSED 127.0.0.1:${environmentPort}`,
      ]);
    });
  });
});
