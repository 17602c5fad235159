'use strict';
/*
 * Memory benchmark: streams a generated CSV of BENCH_MB megabytes (default 300) through the
 * whole plan (validate, transform, enrich, analyze, export) and reports the worker's and the
 * API's peak RSS. Runs the built service (dist/) as two separate processes, against its own
 * database, Redis key prefix and s3rver, and removes all of them at the end.
 *
 *   npm run bench:memory                 # builds first
 *   BENCH_MB=100 node bench/memory.js    # after `npm run build`
 *
 * Linux only (reads /proc/<pid>/status). See bench/README.md.
 */
const { spawn } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const { once } = require('node:events');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist', 'src');
const MAIN = path.join(DIST, 'main.js');
const MIB = 1024 * 1024;

const BENCH_MB = Number(process.env.BENCH_MB ?? 300);
const SAMPLE_MS = Number(process.env.BENCH_SAMPLE_MS ?? 100);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MIN ?? 30) * 60_000;
const KEEP = process.env.BENCH_KEEP === '1';

if (!Number.isFinite(BENCH_MB) || BENCH_MB <= 0) {
  console.error(`BENCH_MB must be a positive number of megabytes, got ${process.env.BENCH_MB}`);
  process.exit(2);
}
if (!fs.existsSync(MAIN)) {
  console.error(`${path.relative(ROOT, MAIN)} is missing: run \`npm run build\` first (npm run bench:memory does).`);
  process.exit(2);
}

const { AppConfig } = require(path.join(DIST, 'config', 'app-config.js'));
const { migrateDatabase } = require(path.join(DIST, 'database', 'migrate.js'));
const { createS3Client } = require(path.join(DIST, 'storage', 's3-client.factory.js'));
const { startLocalS3 } = require(path.join(ROOT, 'scripts', 'local-s3.js'));
const { GetObjectCommand } = require('@aws-sdk/client-s3');
const { dropDatabase } = require('./support');
const { Redis } = require('ioredis');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes) => (Number.isFinite(bytes) ? bytes / MIB : null);
const fmt = (value, digits = 1) => (value === null || value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits));

// ---------------------------------------------------------------------------------------------
// Input: a CSV written to disk in chunks, never held whole in memory.

const FIRST = ['Ada', 'Linus', 'Grace', 'Alan', 'Barbara', 'Edsger', 'Margaret', 'Ken', 'Radia', 'Donald', 'Frances', 'Niklaus', 'Hedy', 'Tim', 'Sophie', 'Dennis'];
const LAST = ['Lovelace', 'Torvalds', 'Hopper', 'Turing', 'Liskov', 'Dijkstra', 'Hamilton', 'Thompson', 'Perlman', 'Knuth', 'Allen', 'Wirth', 'Lamarr', 'Berners-Lee', 'Wilson', 'Ritchie'];
const CITIES = ['Oslo', 'Rome', 'Lisbon', 'Tallinn', 'Kraków', 'São Paulo', 'Zürich', 'Reykjavík', 'Nairobi', 'Osaka', 'Montréal', 'Auckland', 'Lima', 'Seoul', 'Cape Town', '"Washington, D.C."'];

/** Small deterministic PRNG (mulberry32), so runs of the same size produce the same file. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function generateCsv(file, targetBytes) {
  const random = prng(42);
  const out = fs.createWriteStream(file);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const base = Date.UTC(2020, 0, 1);
  let bytes = 0;
  let rows = 0;
  const write = async (chunk) => {
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  };
  await write('id,name,city,amount,flag,created\n');
  while (bytes < targetBytes) {
    let chunk = '';
    for (let i = 0; i < 5000 && bytes + chunk.length < targetBytes; i++) {
      rows++;
      const amount = random() < 0.02 ? '' : (random() * 100_000 - 10_000).toFixed(2);
      const flag = random() < 0.5 ? 'true' : 'false';
      const created = new Date(base + Math.floor(random() * 5 * 365 * 86_400_000)).toISOString();
      chunk += `${rows},${pick(FIRST)} ${pick(LAST)} ${Math.floor(random() * 1000)},${pick(CITIES)},${amount},${flag},${created}\n`;
    }
    await write(chunk);
  }
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
  return { bytes: fs.statSync(file).size, rows };
}

// ---------------------------------------------------------------------------------------------
// Processes and their memory.

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

/** VmRSS and VmHWM (peak) of a process, in bytes, from /proc; null once it is gone. */
function memoryOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

function spawnService(name, env) {
  const child = spawn(process.execPath, [MAIN], { env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk) => (tail = (tail + chunk.toString()).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return {
    name,
    child,
    exited,
    output: () => tail,
    running: () => child.exitCode === null && child.signalCode === null,
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

async function waitForHttp(url, service, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!service.running()) throw new Error(`${service.name} exited before it was ready:\n${service.output()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${service.name} not ready at ${url} within ${timeoutMs} ms:\n${service.output()}`);
}

// ---------------------------------------------------------------------------------------------
// Clean-up, registered as resources are created, run once even on failure or Ctrl-C.

const cleanups = [];
let cleaning;
function cleanUp() {
  cleaning ??= (async () => {
    for (const [what, task] of cleanups.reverse()) {
      try {
        await task();
      } catch (error) {
        console.error(`clean-up of ${what} failed: ${error.message}`);
      }
    }
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up…`);
    cleanUp().finally(() => process.exit(130));
  });
}

async function deleteRedisKeys(redisUrl, prefix) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Verification: the exported records, counted line by line as they stream from S3.

async function countLinesInS3(config, key) {
  const client = createS3Client(config.s3);
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: config.s3.bucket, Key: key }));
    let lines = 0;
    const counter = readline.createInterface({ input: response.Body, crlfDelay: Infinity });
    for await (const line of counter) if (line.length > 0) lines++;
    return lines;
  } finally {
    client.destroy();
  }
}

async function readJsonFromS3(config, key) {
  const client = createS3Client(config.s3);
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: config.s3.bucket, Key: key }));
    return JSON.parse(await response.Body.transformToString());
  } finally {
    client.destroy();
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const runId = `${Date.now().toString(36)}${process.pid}`;
  const startedAt = new Date();
  const work = fs.mkdtempSync(path.join(process.env.BENCH_TMPDIR ?? os.tmpdir(), 'ops-bench-'));
  cleanups.push(['temporary files', () => (KEEP ? console.error(`kept ${work}`) : fs.rmSync(work, { recursive: true, force: true }))]);
  const csvFile = path.join(work, 'bench.csv');
  const s3Dir = path.join(work, 's3');
  fs.mkdirSync(s3Dir);

  const databaseUrl = new URL(process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
  databaseUrl.pathname = `/object_processing_bench_${runId}`;
  const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redisPrefix = `opsbench-${runId}`;

  console.log(`Generating a ${BENCH_MB} MB CSV in ${work} …`);
  let t = Date.now();
  const input = await generateCsv(csvFile, Math.round(BENCH_MB * MIB));
  console.log(`  ${fmt(mb(input.bytes))} MiB, ${input.rows} rows in ${fmt((Date.now() - t) / 1000)} s`);

  const s3 = await startLocalS3({ directory: s3Dir });
  cleanups.push(['s3rver', () => s3.stop()]);

  const [apiPort, probePort] = [await freePort(), await freePort()];
  const baseEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? os.homedir(),
    ...s3.env,
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: redisPrefix,
    S3_BUCKET: 'bench-artifacts',
    LOG_LEVEL: 'warn',
    MAX_PARALLEL_WORKERS: '1',
    UPLOAD_LIMIT_BYTES: String(input.bytes + 64 * MIB),
    HOST: '127.0.0.1',
  };
  const config = new AppConfig(baseEnv);

  cleanups.push(['database', () => dropDatabase(config.databaseUrl)]);
  cleanups.push(['Redis keys', () => deleteRedisKeys(redisUrl, redisPrefix)]);
  await migrateDatabase(config);

  // One after the other: each process creates the bucket when it is missing, and two doing
  // that at once on a fresh s3rver makes the loser fail with BucketAlreadyExists.
  const nodeOptions = (name) => (process.env[name] ? { NODE_OPTIONS: process.env[name] } : {});
  const api = spawnService('api', { ...baseEnv, ...nodeOptions('BENCH_API_NODE_OPTIONS'), APP_ROLE: 'api', PORT: String(apiPort) });
  cleanups.push(['api process', () => api.stop()]);
  const baseUrl = `http://127.0.0.1:${apiPort}`;
  await waitForHttp(`${baseUrl}/health/ready`, api);
  const worker = spawnService('worker', { ...baseEnv, ...nodeOptions('BENCH_WORKER_NODE_OPTIONS'), APP_ROLE: 'worker', PROBE_PORT: String(probePort) });
  cleanups.push(['worker process', () => worker.stop()]);
  await waitForHttp(`http://127.0.0.1:${probePort}/health/ready`, worker);

  // RSS of both processes every SAMPLE_MS, with the time, to attribute to operations later.
  const samples = [];
  const sampler = setInterval(() => {
    const w = memoryOf(worker.child.pid);
    const a = memoryOf(api.child.pid);
    samples.push({ t: Date.now(), worker: w?.rss ?? null, api: a?.rss ?? null, bench: process.memoryUsage.rss() });
  }, SAMPLE_MS);
  cleanups.push(['sampler', () => clearInterval(sampler)]);
  // V8 heap in use and external (Buffer) memory, from each process's /metrics, once a second:
  // tells memory a process holds from garbage it has not collected yet.
  const heapSamples = [];
  const heapOf = async (url) => {
    try {
      const text = await (await fetch(url)).text();
      const value = (name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
      return { heap: value('nodejs_heap_size_used_bytes'), external: value('nodejs_external_memory_bytes') };
    } catch {
      return null;
    }
  };
  let heapSampling = true;
  const heapSampler = (async () => {
    while (heapSampling) {
      const t = Date.now();
      const [w, a] = await Promise.all([heapOf(`http://127.0.0.1:${probePort}/metrics`), heapOf(`${baseUrl}/metrics`)]);
      heapSamples.push({ t, worker: w, api: a });
      await sleep(Math.max(0, 1000 - (Date.now() - t)));
    }
  })();
  cleanups.push(['heap sampler', () => ((heapSampling = false), heapSampler)]);
  const idle = { worker: memoryOf(worker.child.pid), api: memoryOf(api.child.pid) };

  // Upload: a Blob backed by the file on disk; fetch streams its FormData body.
  const identifier = `bench-${runId}`;
  const form = new FormData();
  form.append('identifier', identifier);
  form.append('operations', JSON.stringify(['export']));
  form.append('file', await fs.openAsBlob(csvFile, { type: 'text/csv' }), 'bench.csv');
  console.log(`Uploading to ${baseUrl}/api/v1/process …`);
  const uploadStart = Date.now();
  const response = await fetch(`${baseUrl}/api/v1/process`, { method: 'POST', body: form });
  const submitted = await response.json();
  const uploadEnd = Date.now();
  if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${JSON.stringify(submitted)}`);
  console.log(`  202 after ${fmt((uploadEnd - uploadStart) / 1000)} s (${fmt(mb(input.bytes) / ((uploadEnd - uploadStart) / 1000))} MiB/s), object ${submitted.id}`);

  // Progress until settled.
  let progress;
  let lastLine = '';
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    progress = await (await fetch(`${baseUrl}/api/v1/progress/${submitted.id}`)).json();
    if (['completed', 'failed', 'cancelled'].includes(progress.state)) break;
    if (!worker.running()) throw new Error(`the worker exited (${worker.child.exitCode ?? worker.child.signalCode}):\n${worker.output()}`);
    if (Date.now() > deadline) throw new Error(`not settled within ${TIMEOUT_MS / 60_000} min: ${JSON.stringify(progress)}`);
    const line = `  ${progress.state} ${progress.current_operation ?? ''} ${progress.progress?.message ?? ''}`;
    if (line !== lastLine && process.stdout.isTTY) process.stdout.write(`\r${line.padEnd(100).slice(0, 100)}`);
    lastLine = line;
    await sleep(500);
  }
  const settledAt = Date.now();
  if (process.stdout.isTTY) process.stdout.write('\r'.padEnd(101) + '\r');
  clearInterval(sampler);
  heapSampling = false;
  await heapSampler;
  const final = { worker: memoryOf(worker.child.pid), api: memoryOf(api.child.pid) };
  if (progress.state !== 'completed') {
    throw new Error(`object ${progress.state}: ${progress.error ?? ''}\n${JSON.stringify(progress.operations_status, null, 2)}\n${worker.output()}`);
  }

  // Verification.
  const analyze = await readJsonFromS3(config, `${identifier}/analyze_result.json`);
  const exported = await readJsonFromS3(config, `${identifier}/export_result.json`);
  const exportKey = new URL(exported.file).pathname.slice(1);
  const exportedRecords = await countLinesInS3(config, exportKey);
  const verified = analyze.record_count === input.rows && exportedRecords === input.rows;

  // Per operation: duration and the worker's largest sampled RSS while it ran.
  const maxRss = (from, to, who) =>
    samples.filter((s) => s.t >= from && s.t <= to && s[who] !== null).reduce((max, s) => Math.max(max, s[who]), -Infinity);
  const maxOf = (from, to, who, field) =>
    heapSamples.filter((s) => s.t >= from && s.t <= to && s[who]).reduce((max, s) => Math.max(max, s[who][field]), -Infinity);
  const object = await (await fetch(`${baseUrl}/api/v1/objects/${encodeURIComponent(identifier)}`)).json();
  const operations = object.plan.map((name) => {
    const status = progress.operations_status[name];
    const from = Date.parse(status.started_at);
    const to = Date.parse(status.finished_at);
    return {
      operation: name,
      duration_ms: status.duration_ms,
      mib_per_s: status.duration_ms ? mb(input.bytes) / (status.duration_ms / 1000) : null,
      worker_max_sampled_rss_mib: mb(maxRss(from - SAMPLE_MS, to + SAMPLE_MS, 'worker')),
      worker_max_heap_used_mib: mb(maxOf(from, to, 'worker', 'heap')),
      worker_max_external_mib: mb(maxOf(from, to, 'worker', 'external')),
    };
  });
  const processingMs = Date.parse(object.finished_at) - Date.parse(object.started_at ?? object.created_at);
  const totalMs = settledAt - uploadStart;
  const cpus = os.cpus();
  const result = {
    benchmark: 'memory',
    started_at: startedAt.toISOString(),
    file: { bytes: input.bytes, mib: mb(input.bytes), rows: input.rows, format: 'csv' },
    records: { generated: input.rows, analyzed: analyze.record_count, exported: exportedRecords, verified },
    upload: { duration_ms: uploadEnd - uploadStart, mib_per_s: mb(input.bytes) / ((uploadEnd - uploadStart) / 1000), api_max_sampled_rss_mib: mb(maxRss(uploadStart, uploadEnd, 'api')),
      api_max_heap_used_mib: mb(maxOf(uploadStart, uploadEnd, 'api', 'heap')),
      api_max_external_mib: mb(maxOf(uploadStart, uploadEnd, 'api', 'external')),
      bench_max_sampled_rss_mib: mb(maxRss(uploadStart, uploadEnd, 'bench')),
    },
    operations,
    processing_ms: processingMs,
    total_ms: totalMs,
    mib_per_s: { processing: mb(input.bytes) / (processingMs / 1000), end_to_end: mb(input.bytes) / (totalMs / 1000) },
    worker: {
      idle_rss_mib: mb(idle.worker.rss),
      peak_rss_mib: mb(final.worker.hwm),
      max_sampled_rss_mib: mb(maxRss(0, Infinity, 'worker')),
      max_heap_used_mib: mb(maxOf(0, Infinity, 'worker', 'heap')),
      max_external_mib: mb(maxOf(0, Infinity, 'worker', 'external')),
      node_options: process.env.BENCH_WORKER_NODE_OPTIONS ?? null,
    },
    api: {
      idle_rss_mib: mb(idle.api.rss),
      peak_rss_mib: mb(final.api.hwm),
      max_sampled_rss_mib: mb(maxRss(0, Infinity, 'api')),
      max_heap_used_mib: mb(maxOf(0, Infinity, 'api', 'heap')),
      max_external_mib: mb(maxOf(0, Infinity, 'api', 'external')),
      node_options: process.env.BENCH_API_NODE_OPTIONS ?? null,
    },
    bench_process_peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    sample_interval_ms: SAMPLE_MS,
    node: process.version,
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, total_memory_gib: os.totalmem() / 1024 ** 3, platform: `${os.platform()} ${os.release()}` },
  };

  const rows = [
    ['file', `${fmt(result.file.mib)} MiB CSV, ${input.rows} rows`],
    ['records analyzed / exported', `${analyze.record_count} / ${exportedRecords} ${verified ? '(= rows, ok)' : '(MISMATCH)'}`],
    ['upload', `${fmt(result.upload.duration_ms / 1000)} s, ${fmt(result.upload.mib_per_s)} MiB/s, API RSS ≤ ${fmt(result.upload.api_max_sampled_rss_mib)} MiB (heap ≤ ${fmt(result.upload.api_max_heap_used_mib)}, external ≤ ${fmt(result.upload.api_max_external_mib)})`],
    ...operations.map((o) => [
      `  ${o.operation}`,
      `${fmt(o.duration_ms / 1000)} s, ${fmt(o.mib_per_s)} MiB/s, worker RSS ≤ ${fmt(o.worker_max_sampled_rss_mib)} MiB (heap ≤ ${fmt(o.worker_max_heap_used_mib)}, external ≤ ${fmt(o.worker_max_external_mib)})`,
    ]),
    ['processing (queued → completed)', `${fmt(processingMs / 1000)} s, ${fmt(result.mib_per_s.processing)} MiB/s`],
    ['total (upload → settled)', `${fmt(totalMs / 1000)} s, ${fmt(result.mib_per_s.end_to_end)} MiB/s`],
    ['worker peak RSS (VmHWM)', `${fmt(result.worker.peak_rss_mib)} MiB (idle ${fmt(result.worker.idle_rss_mib)} MiB)`],
    ['API peak RSS (VmHWM)', `${fmt(result.api.peak_rss_mib)} MiB (idle ${fmt(result.api.idle_rss_mib)} MiB)`],
    ['bench process peak RSS (includes the in-process s3rver)', `${fmt(result.bench_process_peak_rss_mib)} MiB`],
    ['node / machine', `${process.version}, ${result.machine.cpu} × ${result.machine.cores}, ${fmt(result.machine.total_memory_gib)} GiB`],
  ];
  console.log('\n| measure | value |\n|---|---|');
  for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);

  const resultsDir = path.join(__dirname, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const resultFile = path.join(resultsDir, `memory-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nWritten ${path.relative(ROOT, resultFile)}`);
  if (!verified) throw new Error(`record counts differ: generated ${input.rows}, analyzed ${analyze.record_count}, exported ${exportedRecords}`);
}

main()
  .then(
    () => 0,
    (error) => {
      console.error(`\nbench failed: ${error.stack ?? error}`);
      return 1;
    },
  )
  .then(async (code) => {
    await cleanUp();
    process.exit(code);
  });
