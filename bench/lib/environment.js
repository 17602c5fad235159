'use strict';
/*
 * An environment of a benchmark's own, as test/global-setup.ts makes one for the tests: a fresh,
 * migrated database `object_processing_bench_<id>`, Redis key prefix `opsbench-<id>`, an s3rver in
 * a temporary directory, and the built service (dist/) started in any role against them. All of it
 * is removed at the end (BENCH_KEEP=1 keeps the database, keys and directory).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const { Redis } = require('ioredis');
const YAML = require('yaml');
const { onCleanup } = require('./cleanup');
const { freePort, spawnProcess, waitForHttp } = require('./processes');

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'src');
const MAIN = path.join(DIST, 'main.js');
const KEEP = process.env.BENCH_KEEP === '1';
const log = (message) => console.log(`[bench] ${message}`);

function requireBuild() {
  if (!fs.existsSync(MAIN)) {
    console.error(`${path.relative(ROOT, MAIN)} is missing: run \`npm run build\` first (npm run bench does).`);
    process.exit(2);
  }
}

/**
 * The NODE_OPTIONS production runs a role with: those its Kubernetes Deployment sets (deploy/), or
 * none (V8's defaults). Every benchmark runs the service with them, so what is measured is what runs.
 */
function productionNodeOptions(role) {
  for (const file of fs.readdirSync(path.join(ROOT, 'deploy')).filter((name) => name.endsWith('-deployment.yaml'))) {
    const deployment = YAML.parse(fs.readFileSync(path.join(ROOT, 'deploy', file), 'utf8'));
    for (const container of deployment.spec.template.spec.containers) {
      const env = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));
      if (env.APP_ROLE === role) {
        return env.NODE_OPTIONS ?? '';
      }
    }
  }
  return '';
}

/** A module of the built service, e.g. distModule('config/app-config'). */
function distModule(name) {
  return require(path.join(DIST, `${name}.js`));
}

/** Drops the database of `databaseUrl` (connecting to the server's `postgres` database to do it). */
async function dropDatabase(databaseUrl) {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

async function deleteKeys(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) {
      await redis.unlink(...keys);
    }
  } while (cursor !== '0');
}

/**
 * Prepares the environment of one benchmark. `name` tags the temporary directory. With `s3Process`, the
 * s3rver runs in a process of its own (its pid is `s3.pid`) instead of inside the harness's.
 * Returns the env every spawned process gets, open pg and Redis clients, the AppConfig of that env,
 * and `startService(name, role, env)` for the built service in a role.
 */
async function prepareEnvironment(name, { s3Process = false } = {}) {
  requireBuild();
  const { AppConfig } = distModule('config/app-config');
  const { migrateDatabase } = distModule('database/migrate');
  const { startLocalS3, spawnLocalS3 } = require(path.join(ROOT, 'scripts', 'local-s3.js'));

  const runId = `${Date.now().toString(36)}${process.pid}`;
  const work = fs.mkdtempSync(path.join(process.env.BENCH_TMPDIR ?? os.tmpdir(), `ops-bench-${name}-`));
  onCleanup('the temporary directory', () => (KEEP ? log(`kept ${work}`) : fs.rmSync(work, { recursive: true, force: true })));

  const databaseUrl = new URL(process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
  databaseUrl.pathname = `/object_processing_bench_${runId}`;
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `opsbench-${runId}`;

  const s3Directory = path.join(work, 's3');
  fs.mkdirSync(s3Directory);
  const s3 = await (s3Process ? spawnLocalS3 : startLocalS3)({ directory: s3Directory });
  onCleanup('s3rver', () => s3.stop());

  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? os.homedir(),
    ...s3.env,
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    S3_BUCKET: 'bench-artifacts',
    PROBE_PORT: '0',
    HOST: '127.0.0.1',
    // The scenarios' clients send no API key: they measure the service with access control off (its cost is measured apart).
    AUTH_REQUIRED: 'false',
    // autocannon sends thousands of requests a second from one address: the rate limits stay on (their Redis round trip per
    // request is part of what is measured) but far above any load a scenario makes.
    RATE_LIMIT_REQUESTS: '1000000000',
    RATE_LIMIT_SUBMISSIONS: '1000000000',
    // A write workload queues far more than the workers process meanwhile: a team's cap of queued objects (10,000) would
    // answer 429 team_queue_full within seconds, which the baseline has no counterpart of.
    TEAM_MAX_QUEUED_OBJECTS: '1000000000',
  };
  const config = new AppConfig(env);

  log(`${name}: database ${databaseUrl.pathname.slice(1)}, Redis prefix ${prefix}, s3rver ${s3.endpoint}`);
  onCleanup('the database', () => (KEEP ? log(`kept database ${databaseUrl}`) : dropDatabase(databaseUrl.toString())));
  await migrateDatabase(config);

  const db = new Client({ connectionString: databaseUrl.toString() });
  await db.connect();
  onCleanup('the database connection', () => db.end());
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  onCleanup('the Redis keys', async () => {
    if (!KEEP) {
      await deleteKeys(redis, prefix);
    }
    await redis.quit();
  });

  /**
   * Starts the built service in `role` ('api', 'worker' or 'all') with `extraEnv`, waits until it is
   * ready and stops it at clean-up. Returns the process and the base URL of its HTTP port (API or probe).
   * NODE_OPTIONS in `extraEnv` come after the role's production ones, and BENCH_SERVICE_NODE_OPTIONS after those (e.g.
   * `--require <repo>/bench/lib/cpu-profile.js` to profile every service process and its operation processes).
   */
  async function startService(processName, role, extraEnv = {}) {
    const port = await freePort();
    const portEnv = role === 'worker' ? { PROBE_PORT: String(port) } : { PORT: String(port) };
    const nodeOptions = [productionNodeOptions(role), extraEnv.NODE_OPTIONS ?? '', process.env.BENCH_SERVICE_NODE_OPTIONS ?? '']
      .filter(Boolean)
      .join(' ');
    const proc = spawnProcess(processName, MAIN, { ...env, APP_ROLE: role, ...portEnv, ...extraEnv, NODE_OPTIONS: nodeOptions }, work);
    onCleanup(processName, () => proc.stop());
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/health/ready`, proc);
    return { proc, url };
  }

  return { runId, work, env, config, databaseUrl: databaseUrl.toString(), redisUrl, prefix, s3, db, redis, startService };
}

module.exports = { ROOT, DIST, prepareEnvironment, productionNodeOptions, distModule, requireBuild, dropDatabase, deleteKeys, log };
