import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDatabase, query } from './support/database';
import { START_LOCAL, freePort, spawnService } from './support/service-process';
import { uniquePrefix } from './support/test-app';
import { waitFor } from './support/wait-for';

const LOCAL_S3 = join(__dirname, '..', 'scripts', 'local-s3.js');

/** Pids of the processes whose parent is `pid` and whose command line runs scripts/local-s3.js. */
function localS3Children(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(LOCAL_S3);
      } catch {
        return false; // exited while listed
      }
    })
    .map(Number);
}

const gone = (pid: number) => !existsSync(`/proc/${pid}`) || /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

describe("npm start's local S3 in a process of its own", () => {
  const database = `object_processing_locals3_${randomUUID().slice(0, 8)}`;
  const databaseUrl = new URL(process.env.DATABASE_URL!);
  databaseUrl.pathname = `/${database}`;
  const bucket = `local-s3-process-${randomUUID().slice(0, 8)}`;

  afterAll(async () => {
    rmSync(join(__dirname, '..', '.s3rver', bucket), { recursive: true, force: true });
    await query(`drop database if exists ${database} with (force)`);
    await closeDatabase();
  });

  it('serves the service from a child process, which ends when the service stops on SIGINT', async () => {
    const [port, s3Port] = [await freePort(), await freePort()];
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      DATABASE_URL: databaseUrl.toString(),
      REDIS_PREFIX: uniquePrefix(),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'log',
      LOCAL_S3_PORT: String(s3Port),
      S3_BUCKET: bucket,
    };
    for (const name of ['S3_ENDPOINT', 'S3_FORCE_PATH_STYLE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      delete env[name];
    }
    const service = spawnService(env, { script: START_LOCAL });
    try {
      await service.waitForOutput(/Listening on/, 120_000).catch((error: Error) => {
        throw new Error(`${error.message}:\n${service.output()}`);
      });
      expect(service.output()).toContain(`Local S3 (s3rver) at http://127.0.0.1:${s3Port}, data in .s3rver/`);
      const [child] = localS3Children(service.child.pid!);
      expect(child).toBeDefined();
      expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);

      expect(await service.stop('SIGINT')).toBe(0);
      await waitFor(() => gone(child!), { timeoutMs: 10_000, what: 'the local S3 process to end' });
      await expect(fetch(`http://127.0.0.1:${s3Port}/`)).rejects.toThrow();
    } finally {
      await service.stop('SIGKILL');
    }
  }, 150_000);

  it('ends when its parent is killed outright', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'ops-local-s3-'));
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(LOCAL_S3)}).spawnLocalS3({ directory: ${JSON.stringify(directory)} }).then((s3) => { console.log(s3.pid, s3.endpoint); setInterval(() => {}, 1000); })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [pid, endpoint] = await new Promise<[number, string]>((resolve) =>
        parent.stdout.once('data', (chunk: Buffer) => {
          const [childPid, url] = chunk.toString().trim().split(' ');
          resolve([Number(childPid), url!]);
        }),
      );
      expect((await fetch(`${endpoint}/`)).status).toBe(200);
      parent.kill('SIGKILL');
      await waitFor(() => gone(pid), { timeoutMs: 10_000, what: 'the local S3 process to end' });
    } finally {
      parent.kill('SIGKILL');
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
