'use strict';
/*
 * Throughput benchmark (issue 6): each scenario against its baseline, side by side in one run.
 *
 *   npm run bench                 # builds first, then node bench/run.js
 *   BENCH_ROUNDS=3 BENCH_SCENARIOS=read node bench/run.js   # after `npm run build`
 *
 * Scenarios (the service is the built dist/ as a separate APP_ROLE=api process, no worker):
 *   read   GET /api/v1/progress/{id} over BENCH_OBJECTS completed rows, in a shuffled cycle,
 *          vs bench/baselines/read.js (bare Fastify + pg fetching the same row)
 *   write  POST /api/v1/process {identifier: unique, operations: ["validate"]}, no payload,
 *          vs bench/baselines/write.js (bare Fastify + pg INSERT + BullMQ add)
 *
 * Each round runs, per scenario, the service and its baseline one after the other (the order
 * alternates between rounds) with the same autocannon settings: a warm-up, then the measured run.
 * Before each run the tables are emptied, the seed rows re-inserted and the queue drained.
 * Everything runs in a database, Redis key prefix and s3rver of its own, removed at the end,
 * also on failure or Ctrl-C.
 *
 * Settings: BENCH_ROUNDS (5), BENCH_DURATION (10 s), BENCH_WARMUP (3 s), BENCH_CONNECTIONS (32),
 * BENCH_OBJECTS (1000), BENCH_SCENARIOS (read,write), BENCH_LOG_LEVEL (the service's LOG_LEVEL,
 * default: its own default), BENCH_PROFILE=1 (every server runs with --cpu-prof; profiles go to
 * bench/results/profiles-<timestamp>/<server>/), BENCH_KEEP=1 (keep the database, keys and logs).
 * Writes bench/results/bench-<timestamp>.json and the run section of docs/BENCHMARKS.md.
 */
const { spawn } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist', 'src');
const MAIN = path.join(DIST, 'main.js');
const RESULTS = path.join(__dirname, 'results');
const DOC = path.join(ROOT, 'docs', 'BENCHMARKS.md');

const settings = {
  rounds: positive('BENCH_ROUNDS', 5),
  durationS: positive('BENCH_DURATION', 10),
  warmupS: positive('BENCH_WARMUP', 3, true),
  connections: positive('BENCH_CONNECTIONS', 32),
  pipelining: 1,
  objects: positive('BENCH_OBJECTS', 1000),
  scenarios: (process.env.BENCH_SCENARIOS ?? 'read,write').split(',').map((name) => name.trim()).filter(Boolean),
  serviceLogLevel: process.env.BENCH_LOG_LEVEL || null,
  profile: process.env.BENCH_PROFILE === '1',
};
const KEEP = process.env.BENCH_KEEP === '1';

function positive(name, fallback, zeroAllowed = false) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    console.error(`${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number, got ${raw}`);
    process.exit(2);
  }
  return value;
}

if (!fs.existsSync(MAIN)) {
  console.error(`${path.relative(ROOT, MAIN)} is missing: run \`npm run build\` first (npm run bench does).`);
  process.exit(2);
}

const autocannon = require('autocannon');
const { Client } = require('pg');
const { dropDatabase } = require('./support');
const { Redis } = require('ioredis');
const { Queue } = require('bullmq');
const { AppConfig } = require(path.join(DIST, 'config', 'app-config.js'));
const { migrateDatabase } = require(path.join(DIST, 'database', 'migrate.js'));
const { startLocalS3 } = require(path.join(ROOT, 'scripts', 'local-s3.js'));

const PLAN = ['validate', 'transform', 'enrich', 'analyze', 'export'];

const SCENARIOS = {
  read: {
    title: 'read',
    measure: 'GET /api/v1/progress/{id} req/s',
    baseline: 'bare Fastify + pg fetching the same row (bench/baselines/read.js)',
    target: 0.8,
    expectStatus: 200,
  },
  write: {
    title: 'write',
    measure: 'POST /api/v1/process req/s (no payload, operations ["validate"])',
    baseline: 'bare Fastify + pg INSERT + BullMQ add (bench/baselines/write.js)',
    target: 0.7,
    expectStatus: 202,
  },
};

for (const name of settings.scenarios) {
  if (!SCENARIOS[name]) {
    console.error(`Unknown scenario '${name}' in BENCH_SCENARIOS; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
}

const log = (message) => console.log(`[bench] ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

// ---------------------------------------------------------------------------------------------
// Clean-up: everything started or created is undone in reverse order, on success, failure or signal.

const cleanups = [];
let cleaningUp = null;
function onCleanup(what, action) {
  cleanups.push({ what, action });
}
function cleanUp() {
  cleaningUp ??= (async () => {
    while (cleanups.length) {
      const { what, action } = cleanups.pop();
      try {
        await action();
      } catch (error) {
        console.error(`[bench] clean-up of ${what} failed: ${error.message}`);
      }
    }
  })();
  return cleaningUp;
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`[bench] ${signal}: cleaning up`);
    cleanUp().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Processes.

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A server as its own OS process; its output goes to a file (the harness spends no CPU on it). */
function spawnServer(name, script, env, logDir) {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [script], { env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return {
    name,
    pid: child.pid,
    logFile,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    tail: () => {
      try {
        return fs.readFileSync(logFile, 'utf8').slice(-4000);
      } catch {
        return '';
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

async function waitForHttp(url, server, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!server.running()) throw new Error(`${server.name} exited before answering:\n${server.tail()}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await sleep(200);
    }
  }
  throw new Error(`${server.name} did not answer ${url} within ${timeoutMs} ms:\n${server.tail()}`);
}

/** User + system CPU time of a process so far, in ms (Linux /proc; null elsewhere). */
function cpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

/** CPU time so far of the PostgreSQL and Redis server processes on this machine (exited backends included), in ms (Linux /proc). */
function backendCpuMs() {
  const totals = { postgres: 0, redis: 0 };
  let entries;
  try {
    entries = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return null;
  }
  for (const pid of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const kind = comm === 'postgres' || comm.startsWith('postgres:') ? 'postgres' : comm.startsWith('redis-server') ? 'redis' : null;
      if (!kind) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime + stime, plus cutime + cstime: the postmaster collects the time of backends that have exited.
      totals[kind] += ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / 100;
    } catch {
      // the process ended meanwhile
    }
  }
  return totals;
}

// ---------------------------------------------------------------------------------------------
// Data: seed rows for the read scenario; reset before every measured run.

function seedRows(count) {
  const started = new Date(Date.UTC(2026, 0, 1, 12, 0, 0));
  return Array.from({ length: count }, (_, index) => {
    const id = randomUUID();
    const identifier = `bench-read-${String(index).padStart(5, '0')}`;
    const artifacts = {};
    const statuses = {};
    PLAN.forEach((operation, step) => {
      const url = `s3://bench-artifacts/${identifier}/${operation}_result.json`;
      artifacts[operation] = url;
      const begin = new Date(started.getTime() + step * 40);
      statuses[operation] = {
        completed: true,
        s3_url: url,
        started_at: begin.toISOString(),
        finished_at: new Date(begin.getTime() + 35).toISOString(),
        duration_ms: 35,
        attempts: 1,
        error: null,
        ...(operation === 'export' ? { files: [`s3://bench-artifacts/${identifier}/export/data.ndjson`] } : {}),
      };
    });
    return {
      id,
      identifier,
      state: 'completed',
      operations: ['export'],
      plan: PLAN,
      current_operation: null,
      progress: { current: PLAN.length, total: PLAN.length, message: 'Completed' },
      operations_status: statuses,
      s3_artifacts: artifacts,
      error_message: null,
      error_code: null,
      task_id: `${id}.1`,
      source: { content_type: 'application/json', size: 1024, sha256: 'a'.repeat(64), s3_url: `s3://bench-artifacts/${identifier}/source/payload.json` },
      metadata: { source: 'bench', batch: index % 10 },
      options: {},
      priority: 5,
      attempts: 1,
      idempotency_key: null,
      request_hash: 'b'.repeat(64),
      version: 12,
      created_at: started.toISOString(),
      updated_at: new Date(started.getTime() + 250).toISOString(),
      started_at: started.toISOString(),
      finished_at: new Date(started.getTime() + 250).toISOString(),
    };
  });
}

async function resetData(db, queue, rows) {
  await queue.drain(true);
  await db.query('truncate processing_objects, object_events');
  await db.query('insert into processing_objects select * from json_populate_recordset(null::processing_objects, $1::json)', [JSON.stringify(rows)]);
  await db.query('analyze processing_objects');
  await db.query('checkpoint');
}

async function deleteKeys(redis, prefix) {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

// ---------------------------------------------------------------------------------------------
// Load.

function loadOptions(scenario, baseUrl, seed) {
  const common = { url: baseUrl, connections: settings.connections, pipelining: settings.pipelining, timeout: 10 };
  if (scenario === 'read') {
    // Every seeded row, in one shuffled order, cycled through: the same sequence for service and baseline.
    let next = 0;
    const paths = seed.paths;
    return { ...common, requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: paths[next++ % paths.length] }) }] };
  }
  return {
    ...common,
    requests: [
      {
        method: 'POST',
        path: '/api/v1/process',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ identifier: `bench-write-${seed.runTag}-${seed.counter++}`, operations: ['validate'] }) }),
      },
    ],
  };
}

function runLoad(options, durationS) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ ...options, duration: durationS }, (error, result) => (error ? reject(error) : resolve(result)));
    // autocannon keeps the process alive otherwise on some errors; nothing is printed.
    instance.on('error', reject);
  });
}

async function measure(scenario, target, server, url, seed) {
  const options = loadOptions(scenario, url, seed);
  if (settings.warmupS > 0) await runLoad(options, settings.warmupS);
  const cpuBefore = cpuMs(server.pid);
  const backendsBefore = backendCpuMs();
  const result = await runLoad(options, settings.durationS);
  const cpuAfter = cpuMs(server.pid);
  const backendsAfter = backendCpuMs();
  if (!server.running()) throw new Error(`${server.name} died during the ${scenario} run:\n${server.tail()}`);
  const ok = result.statusCodeStats[String(SCENARIOS[scenario].expectStatus)]?.count ?? 0;
  const failed = result.requests.total - ok + result.errors + result.timeouts;
  return {
    target,
    reqPerSec: ok / result.duration,
    requests: result.requests.total,
    ok,
    failed,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stats]) => [code, stats.count])),
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.average },
    serverCpuMsPerRequest: cpuBefore !== null && cpuAfter !== null && result.requests.total ? (cpuAfter - cpuBefore) / result.requests.total : null,
    postgresCpuMsPerRequest: backendsBefore && backendsAfter && result.requests.total ? (backendsAfter.postgres - backendsBefore.postgres) / result.requests.total : null,
    redisCpuMsPerRequest: backendsBefore && backendsAfter && result.requests.total ? (backendsAfter.redis - backendsBefore.redis) / result.requests.total : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Sanity: both sides answer the same thing, so the comparison is of the same work.

async function checkSameAnswers(db, urls, seed) {
  if (settings.scenarios.includes('read')) {
    const id = seed.rows[0].id;
    const [service, baseline] = await Promise.all(
      [urls.service, urls.read].map(async (base) => {
        const response = await fetch(`${base}/api/v1/progress/${id}`);
        return { status: response.status, body: await response.json() };
      }),
    );
    if (service.status !== 200 || JSON.stringify(service) !== JSON.stringify(baseline)) {
      throw new Error(`read: the service and the baseline answer differently:\n${JSON.stringify(service)}\n${JSON.stringify(baseline)}`);
    }
  }
  if (settings.scenarios.includes('write')) {
    const answers = await Promise.all(
      [urls.service, urls.write].map(async (base, index) => {
        const identifier = `bench-check-${index}`;
        const response = await fetch(`${base}/api/v1/process`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ identifier, operations: ['validate'] }),
        });
        const body = await response.json();
        const { rows } = await db.query(
          `select state, operations, plan, progress, priority, attempts, task_id = id || '.1' as task_id_ok, metadata, options, source from processing_objects where identifier = $1`,
          [identifier],
        );
        return { status: response.status, keys: Object.keys(body).sort(), state: body.state, task_id_ok: body.task_id === `${body.id}.1`, row: rows[0] };
      }),
    );
    if (JSON.stringify(answers[0]) !== JSON.stringify(answers[1]) || answers[0].status !== 202) {
      throw new Error(`write: the service and the baseline answer or store differently:\n${JSON.stringify(answers[0])}\n${JSON.stringify(answers[1])}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Machine and versions.

async function describeMachine(db, redis) {
  const cpus = os.cpus();
  const info = await redis.info('server');
  const packageVersion = (name) => {
    try {
      return require(path.join(ROOT, 'node_modules', name, 'package.json')).version;
    } catch {
      return null;
    }
  };
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((value) => Math.round(value * 100) / 100),
    node: process.version,
    postgres: (await db.query('show server_version')).rows[0].server_version,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    packages: Object.fromEntries(
      ['@nestjs/core', '@nestjs/platform-fastify', '@mikro-orm/postgresql', 'fastify', 'pg', 'bullmq', 'ioredis', 'autocannon'].map((name) => [name, packageVersion(name)]),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Report.

const fixed = (value, digits = 0) => (value === null || value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits));

function markdown(report) {
  const { machine, settings: s } = report;
  const lines = [];
  lines.push(`Run of ${report.date} (\`npm run bench\`, ${report.file}).`, '');
  lines.push('| machine | |', '|---|---|');
  lines.push(`| CPU | ${machine.cpu} |`, `| cores | ${machine.cores} |`, `| memory | ${machine.memoryGiB} GiB |`, `| OS | ${machine.os} |`, `| load average at start (1, 5, 15 min) | ${machine.loadAverageAtStart.join(', ')} |`);
  lines.push(`| Node | ${machine.node} |`, `| PostgreSQL | ${machine.postgres} |`, `| Redis | ${machine.redis} |`);
  lines.push(`| packages | ${Object.entries(machine.packages).map(([name, version]) => `${name} ${version}`).join(', ')} |`, '');
  lines.push(
    `Load: autocannon, ${s.connections} connections, pipelining ${s.pipelining}, ${s.warmupS} s warm-up then ${s.durationS} s measured, ` +
      `${s.rounds} rounds; service and baseline alternate (which goes first alternates per round). Everything on this one machine, over 127.0.0.1. ` +
      `Service: the built dist/ as one APP_ROLE=api process (no worker), LOG_LEVEL=${s.serviceLogLevel ?? 'log (its default)'}, logs to a file. ` +
      `Req/s counts only the expected status (200 read, 202 write).`,
    '',
  );
  lines.push('| scenario | measure | service (median) | baseline (median) | ratio | target | |', '|---|---|---|---|---|---|---|');
  for (const scenario of report.scenarios) {
    const met = scenario.ratio >= scenario.target;
    lines.push(
      `| ${scenario.name} | ${SCENARIOS[scenario.name].measure} | ${fixed(scenario.median.service)} | ${fixed(scenario.median.baseline)} | ` +
        `${fixed(scenario.ratio, 2)} | ≥ ${scenario.target.toFixed(2)} | ${met ? 'met' : '**missed**'} |`,
    );
  }
  lines.push('');
  for (const scenario of report.scenarios) {
    lines.push(`### ${scenario.name}`, '', `${scenario.description}`, '');
    lines.push(
      '| round | first | service req/s | baseline req/s | ratio | service p50 / p99 ms | baseline p50 / p99 ms | server CPU ms/req (service / baseline) | PostgreSQL CPU ms/req (service / baseline) | failed (service / baseline) |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const round of scenario.rounds) {
      const { service, baseline } = round;
      lines.push(
        `| ${round.round} | ${round.first} | ${fixed(service.reqPerSec)} | ${fixed(baseline.reqPerSec)} | ${fixed(service.reqPerSec / baseline.reqPerSec, 2)} | ` +
          `${service.latencyMs.p50} / ${service.latencyMs.p99} | ${baseline.latencyMs.p50} / ${baseline.latencyMs.p99} | ` +
          `${fixed(service.serverCpuMsPerRequest, 3)} / ${fixed(baseline.serverCpuMsPerRequest, 3)} | ${fixed(service.postgresCpuMsPerRequest, 3)} / ${fixed(baseline.postgresCpuMsPerRequest, 3)} | ${service.failed} / ${baseline.failed} |`,
      );
    }
    lines.push(
      `| **median** | | **${fixed(scenario.median.service)}** | **${fixed(scenario.median.baseline)}** | **${fixed(scenario.ratio, 2)}** | ` +
        `${fixed(scenario.median.serviceP50)} / ${fixed(scenario.median.serviceP99)} | ${fixed(scenario.median.baselineP50)} / ${fixed(scenario.median.baselineP99)} | ` +
        `${fixed(scenario.median.serviceCpu, 3)} / ${fixed(scenario.median.baselineCpu, 3)} | ${fixed(scenario.median.servicePgCpu, 3)} / ${fixed(scenario.median.baselinePgCpu, 3)} | |`,
      '',
    );
  }
  lines.push('Ratio = service req/s ÷ baseline req/s; the headline ratio is the ratio of the medians. Server CPU ms/req is the server process\'s own user+system time per request; PostgreSQL CPU ms/req is that of all PostgreSQL processes on the machine over the same run, per request (anything else using PostgreSQL meanwhile counts too).');
  return lines.join('\n');
}

const DESCRIPTIONS = {
  read: (s) =>
    `GET /api/v1/progress/{id} over ${s.objects} completed objects (5-operation plan, every status and artifact filled), each id once per cycle in one shuffled order, ` +
    'the same order for both sides. Baseline: bench/baselines/read.js, bare Fastify + pg (pool max 10, as the service\'s MikroORM pool) selecting the row by primary key ' +
    'and building the same progress JSON (checked equal before the run).',
  write: () =>
    'POST /api/v1/process with a unique identifier per request and operations ["validate"], no payload, against an API-only process: nothing consumes the queue. ' +
    'Baseline: bench/baselines/write.js, bare Fastify (JSON-schema body validation) + pg (pool max 10) INSERT of the same columns into the same table, directly as queued, ' +
    '+ BullMQ Queue.add with the same queue options, job id and priority; same 202 JSON. Tables and queue are reset before every measured run.',
};

function writeDoc(section) {
  const start = '<!-- bench:run:start -->';
  const end = '<!-- bench:run:end -->';
  const block = `${start}\n${section}\n${end}`;
  fs.mkdirSync(path.dirname(DOC), { recursive: true });
  let text = fs.existsSync(DOC) ? fs.readFileSync(DOC, 'utf8') : '';
  if (text.includes(start) && text.includes(end)) {
    text = text.slice(0, text.indexOf(start)) + block + text.slice(text.indexOf(end) + end.length);
  } else {
    text =
      (text ||
        '# Benchmarks\n\n' +
          'Written by `npm run bench` (bench/run.js): each scenario of issue 6 against its baseline, the leanest honest implementation of the same work ' +
          'with the same libraries, pool sizes and load, measured side by side in one run. The section between the markers is replaced by every run; ' +
          'the raw figures are in bench/results/ (not committed).\n') +
      `\n## Throughput: service vs baseline\n\n${block}\n`;
  }
  fs.writeFileSync(DOC, text);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const runId = `${Date.now().toString(36)}${process.pid}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-bench-run-'));
  onCleanup('the temporary directory', () => (KEEP ? log(`kept ${work}`) : fs.rmSync(work, { recursive: true, force: true })));

  const databaseUrl = new URL(process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
  databaseUrl.pathname = `/object_processing_bench_${runId}`;
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `opsbench-${runId}`;

  const s3 = await startLocalS3({ directory: path.join(work, 's3') });
  onCleanup('s3rver', () => s3.stop());

  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...s3.env,
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    S3_BUCKET: 'bench-artifacts',
    PROBE_PORT: '0',
    HOST: '127.0.0.1',
  };

  log(`database ${databaseUrl.pathname.slice(1)}, Redis prefix ${prefix}`);
  onCleanup('the database', () => (KEEP ? log(`kept database ${databaseUrl}`) : dropDatabase(databaseUrl.toString())));
  await migrateDatabase(new AppConfig(env));

  const db = new Client({ connectionString: databaseUrl.toString() });
  await db.connect();
  onCleanup('the database connection', () => db.end());
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  onCleanup('the Redis keys', async () => {
    if (!KEEP) await deleteKeys(redis, prefix);
    await redis.quit();
  });
  const queue = new Queue('objects', { connection: { url: redisUrl }, prefix });
  onCleanup('the queue connection', () => queue.close());

  const machine = await describeMachine(db, redis);
  log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`);

  const profileDir = settings.profile ? path.join(RESULTS, `profiles-${stamp}`) : null;
  const profiling = (name) => (profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.join(profileDir, name)}` } : {});
  const ports = { service: await freePort(), read: await freePort(), write: await freePort() };
  const serviceEnv = {
    ...env,
    APP_ROLE: 'api',
    PORT: String(ports.service),
    ...(settings.serviceLogLevel ? { LOG_LEVEL: settings.serviceLogLevel } : {}),
    ...profiling('service'),
  };
  const servers = {
    service: spawnServer('service', MAIN, serviceEnv, work),
    ...(settings.scenarios.includes('read') ? { read: spawnServer('baseline-read', path.join(__dirname, 'baselines', 'read.js'), { ...env, PORT: String(ports.read), ...profiling('baseline-read') }, work) } : {}),
    ...(settings.scenarios.includes('write') ? { write: spawnServer('baseline-write', path.join(__dirname, 'baselines', 'write.js'), { ...env, PORT: String(ports.write), ...profiling('baseline-write') }, work) } : {}),
  };
  for (const server of Object.values(servers)) onCleanup(server.name, () => server.stop());
  const urls = Object.fromEntries(Object.keys(servers).map((name) => [name, `http://127.0.0.1:${ports[name]}`]));
  await Promise.all(Object.entries(servers).map(([name, server]) => waitForHttp(`${urls[name]}${name === 'service' ? '/health/live' : '/'}`, server)));
  log(`service pid ${servers.service.pid} on ${urls.service}; baselines ${Object.keys(servers).filter((n) => n !== 'service').map((n) => `${n} ${urls[n]}`).join(', ')}`);

  const rows = seedRows(settings.objects);
  const order = rows.map((row) => `/api/v1/progress/${row.id}`);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const seed = { rows, paths: order, runTag: runId, counter: 0 };

  await resetData(db, queue, rows);
  await checkSameAnswers(db, urls, seed);
  log('service and baselines answer alike');

  const perScenario = Object.fromEntries(settings.scenarios.map((name) => [name, []]));
  const expected = settings.rounds * settings.scenarios.length * 2 * (settings.durationS + settings.warmupS);
  log(`${settings.rounds} rounds × ${settings.scenarios.join(', ')}: about ${Math.ceil(expected / 60)} min of load`);
  for (let round = 1; round <= settings.rounds; round++) {
    for (const scenario of settings.scenarios) {
      const sides = round % 2 ? ['service', 'baseline'] : ['baseline', 'service'];
      const figures = {};
      for (const side of sides) {
        const serverName = side === 'service' ? 'service' : scenario;
        await resetData(db, queue, rows);
        figures[side] = await measure(scenario, side, servers[serverName], urls[serverName], seed);
        const f = figures[side];
        log(
          `round ${round} ${scenario} ${side.padEnd(8)} ${f.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${f.latencyMs.p50} ms  p99 ${f.latencyMs.p99} ms` +
            `  cpu ${fixed(f.serverCpuMsPerRequest, 3)} ms/req  pg ${fixed(f.postgresCpuMsPerRequest, 3)} ms/req${f.failed ? `  FAILED ${f.failed} ${JSON.stringify(f.statusCodes)}` : ''}`,
        );
      }
      perScenario[scenario].push({ round, first: sides[0], service: figures.service, baseline: figures.baseline });
    }
  }

  const scenarios = settings.scenarios.map((name) => {
    const roundsOf = perScenario[name];
    const pick = (side, get) => median(roundsOf.map((round) => get(round[side])).filter((value) => value !== null));
    const med = {
      service: pick('service', (f) => f.reqPerSec),
      baseline: pick('baseline', (f) => f.reqPerSec),
      serviceP50: pick('service', (f) => f.latencyMs.p50),
      serviceP99: pick('service', (f) => f.latencyMs.p99),
      baselineP50: pick('baseline', (f) => f.latencyMs.p50),
      baselineP99: pick('baseline', (f) => f.latencyMs.p99),
      serviceCpu: pick('service', (f) => f.serverCpuMsPerRequest),
      baselineCpu: pick('baseline', (f) => f.serverCpuMsPerRequest),
      servicePgCpu: pick('service', (f) => f.postgresCpuMsPerRequest),
      baselinePgCpu: pick('baseline', (f) => f.postgresCpuMsPerRequest),
    };
    const failures = roundsOf.reduce((sum, round) => sum + round.service.failed + round.baseline.failed, 0);
    return {
      name,
      measure: SCENARIOS[name].measure,
      baseline: SCENARIOS[name].baseline,
      description: DESCRIPTIONS[name](settings),
      target: SCENARIOS[name].target,
      median: med,
      ratio: med.service / med.baseline,
      roundRatios: roundsOf.map((round) => round.service.reqPerSec / round.baseline.reqPerSec),
      failures,
      rounds: roundsOf,
    };
  });

  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `bench-${stamp}.json`);
  const report = { date: startedAt.toISOString(), file: path.relative(ROOT, file), machine, settings, scenarios };
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  writeDoc(markdown(report));
  log(`wrote ${path.relative(ROOT, file)} and ${path.relative(ROOT, DOC)}`);
  for (const scenario of scenarios) {
    log(
      `${scenario.name}: service ${scenario.median.service.toFixed(0)} req/s, baseline ${scenario.median.baseline.toFixed(0)} req/s, ` +
        `ratio ${scenario.ratio.toFixed(2)} (target ≥ ${scenario.target}) ${scenario.ratio >= scenario.target ? 'met' : 'MISSED'}` +
        `${scenario.failures ? `; ${scenario.failures} failed requests` : ''}`,
    );
  }
  if (profileDir) log(`CPU profiles of the servers in ${path.relative(ROOT, profileDir)} (written when it stops)`);
  return scenarios.some((scenario) => scenario.failures > 0) ? 1 : 0;
}

main()
  .then(
    async (code) => {
      await cleanUp();
      process.exit(code);
    },
    async (error) => {
      console.error(`[bench] failed: ${error.stack ?? error}`);
      await cleanUp();
      process.exit(1);
    },
  );
