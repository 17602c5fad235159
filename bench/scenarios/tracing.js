'use strict';
/*
 * Scenario "tracing" (issue 19): what OpenTelemetry tracing costs, on and off, on the read path and on a short
 * pipeline. Not part of `npm run bench`: run it alone, after `npm run build`:
 *
 *   PATH=$PWD/node_modules/.bin:$PATH node bench/scenarios/tracing.js
 *
 * Variants of the built service, measured in turn (the order rotates per round):
 *   off     no OTEL_* variable: the SDK is never loaded
 *   on      OTEL_EXPORTER_OTLP_ENDPOINT pointing at a sink in this process (OTLP/HTTP protobuf, the default
 *           protocol and batch settings), which answers 200 to every export and counts them
 *   before  (only with BENCH_BASE_MAIN=/path/to/dist/src/main.js of another build, e.g. the commit before tracing)
 *
 *   read      GET /api/v1/progress/{id} with autocannon against an API-only process of each variant, over
 *             BENCH_TRACING_OBJECTS queued objects in a shuffled cycle: req/s, latency, server CPU per request.
 *   pipeline  BENCH_TRACING_PIPELINE_OBJECTS objects (1 KB JSON payload, validate → transform → enrich → analyze)
 *             submitted through one API process (tracing off) while no worker runs, then consumed by a worker
 *             process of the variant (MAX_PARALLEL_WORKERS 3): objects/s (first start to last finish) and the
 *             worker's CPU per object, its operation processes included.
 *
 * Settings: BENCH_ROUNDS (4), BENCH_DURATION (8 s), BENCH_WARMUP (2 s), BENCH_CONNECTIONS (32),
 * BENCH_TRACING_OBJECTS (500), BENCH_TRACING_PIPELINE_OBJECTS (120), BENCH_TRACING_PARTS (read,pipeline),
 * BENCH_BASE_MAIN. Prints a table and writes bench/results/tracing-<date>.json.
 */
const fs = require('node:fs');
const { createServer } = require('node:http');
const path = require('node:path');
const { runLoad } = require('../lib/load');
const { runBenchmark, onCleanup } = require('../lib/cleanup');
const { prepareEnvironment, productionNodeOptions, log } = require('../lib/environment');
const { freePort, spawnProcess, waitForHttp, cpuMs, sleep } = require('../lib/processes');
const { median, fixed, RESULTS } = require('../lib/report');
const { positive } = require('../lib/settings');

const settings = {
  rounds: positive('BENCH_ROUNDS', 4),
  durationS: positive('BENCH_DURATION', 8),
  warmupS: positive('BENCH_WARMUP', 2, true),
  connections: positive('BENCH_CONNECTIONS', 32),
  objects: positive('BENCH_TRACING_OBJECTS', 500),
  pipelineObjects: positive('BENCH_TRACING_PIPELINE_OBJECTS', 120),
  parts: (process.env.BENCH_TRACING_PARTS ?? 'read,pipeline')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
  baseMain: process.env.BENCH_BASE_MAIN,
};
const PIPELINE_OPERATIONS = ['analyze'];

/** An OTLP/HTTP receiver that keeps nothing: it answers every export and counts them, as a collector next to the pod would. */
async function startSink() {
  const counts = { exports: 0, bytes: 0 };
  const server = createServer((request, response) => {
    request.on('data', (chunk) => (counts.bytes += chunk.length));
    request.on('end', () => {
      counts.exports++;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup('the OTLP sink', () => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${server.address().port}`, counts };
}

function variants(sink) {
  const list = [
    { name: 'off', env: {} },
    { name: 'on', env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } },
  ];
  if (settings.baseMain) {
    list.push({ name: 'before', env: {}, main: settings.baseMain });
  }
  return list;
}

/** The built service (or `variant.main`) in `role`, ready; stopped at clean-up. */
async function startVariant(environment, variant, role, name, extraEnv = {}) {
  if (!variant.main) {
    return environment.startService(name, role, { ...variant.env, ...extraEnv });
  }
  const port = await freePort();
  const portEnv = role === 'worker' ? { PROBE_PORT: String(port) } : { PORT: String(port) };
  const nodeOptions = productionNodeOptions(role);
  const proc = spawnProcess(
    name,
    variant.main,
    { ...environment.env, APP_ROLE: role, ...portEnv, ...variant.env, ...extraEnv, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    environment.work,
  );
  onCleanup(name, () => proc.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health/ready`, proc);
  return { proc, url };
}

function payload(index) {
  return Array.from({ length: 9 }, (_, row) => ({
    id: index * 9 + row,
    name: `name ${row}`,
    amount: (index * 37 + row) % 1000,
    flag: row % 2 === 0,
  }));
}

async function submit(apiUrl, identifiers, withPayload) {
  const ids = [];
  let next = 0;
  const one = async () => {
    while (next < identifiers.length) {
      const index = next++;
      const body = { identifier: identifiers[index], operations: PIPELINE_OPERATIONS, ...(withPayload ? { payload: payload(index) } : {}) };
      const response = await fetch(`${apiUrl}/api/v1/process`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (response.status !== 202) {
        throw new Error(`submission of ${identifiers[index]}: ${response.status} ${await response.text()}`);
      }
      ids[index] = (await response.json()).id;
    }
  };
  await Promise.all(Array.from({ length: 16 }, one));
  return ids;
}

async function measureRead(server, paths) {
  let next = 0;
  const options = {
    url: server.url,
    connections: settings.connections,
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: paths[next++ % paths.length] }) }],
  };
  if (settings.warmupS > 0) {
    await runLoad(options, settings.warmupS);
  }
  const cpuBefore = cpuMs(server.proc.pid);
  const result = await runLoad(options, settings.durationS);
  const cpu = cpuMs(server.proc.pid) - cpuBefore;
  const ok = result.statusCodeStats['200']?.count ?? 0;
  if (ok !== result.requests.total) {
    throw new Error(`read: ${result.requests.total - ok} answers were not 200: ${JSON.stringify(result.statusCodeStats)}`);
  }
  return {
    reqPerSec: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuMsPerRequest: cpu / result.requests.total,
  };
}

async function readPart(environment, sink) {
  const servers = [];
  for (const variant of variants(sink)) {
    servers.push({ variant: variant.name, ...(await startVariant(environment, variant, 'api', `tracing-read-${variant.name}`)) });
  }
  const identifiers = Array.from({ length: settings.objects }, (_, index) => `bench-tracing-read-${index}`);
  const ids = await submit(servers[0].url, identifiers, false);
  const paths = ids.map((id) => `/api/v1/progress/${id}`).sort(() => Math.random() - 0.5);
  const rounds = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const order = servers.map((_, index) => servers[(index + round - 1) % servers.length]);
    for (const server of order) {
      const exportsBefore = sink.counts.exports;
      const figures = await measureRead(server, paths);
      rounds.push({ round, variant: server.variant, ...figures, exports: sink.counts.exports - exportsBefore });
      log(
        `read round ${round} ${server.variant}: ${fixed(figures.reqPerSec)} req/s, p50 ${figures.p50} p99 ${figures.p99} ms, ${fixed(figures.cpuMsPerRequest, 3)} CPU ms/req`,
      );
    }
  }
  await Promise.all(servers.map((server) => server.proc.stop()));
  return rounds;
}

async function waitForBatch(db, prefix, count, proc) {
  for (;;) {
    const { rows } = await db.query(
      `select count(*) filter (where state = 'completed')::int as done, count(*) filter (where state in ('failed', 'cancelled'))::int as bad from processing_objects where identifier like $1`,
      [`${prefix}%`],
    );
    if (rows[0].bad > 0) {
      throw new Error(`${prefix}: ${rows[0].bad} objects did not complete`);
    }
    if (rows[0].done >= count) {
      return;
    }
    if (!proc.running()) {
      throw new Error(`${proc.name} exited:\n${proc.tail()}`);
    }
    await sleep(100);
  }
}

async function pipelinePart(environment, sink) {
  const api = await startVariant(environment, { name: 'off', env: {} }, 'api', 'tracing-pipeline-api');
  const rounds = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const all = variants(sink);
    const order = all.map((_, index) => all[(index + round - 1) % all.length]);
    for (const variant of order) {
      const prefix = `bench-tracing-${variant.name}-${round}-`;
      await submit(
        api.url,
        Array.from({ length: settings.pipelineObjects }, (_, index) => `${prefix}${index}`),
        true,
      );
      const exportsBefore = sink.counts.exports;
      const worker = await startVariant(environment, variant, 'worker', `tracing-pipeline-${variant.name}-${round}`, {
        MAX_PARALLEL_WORKERS: '3',
      });
      const cpuBefore = cpuMs(worker.proc.pid);
      await waitForBatch(environment.db, prefix, settings.pipelineObjects, worker.proc);
      const cpu = cpuMs(worker.proc.pid) - cpuBefore;
      await worker.proc.stop();
      const { rows } = await environment.db.query(
        `select extract(epoch from max(finished_at) - min(started_at)) * 1000 as ms from processing_objects where identifier like $1`,
        [`${prefix}%`],
      );
      const ms = Number(rows[0].ms);
      const figures = {
        objectsPerSecond: (settings.pipelineObjects * 1000) / ms,
        cpuMsPerObject: cpu / settings.pipelineObjects,
        exports: sink.counts.exports - exportsBefore,
      };
      rounds.push({ round, variant: variant.name, ms: Math.round(ms), ...figures });
      log(
        `pipeline round ${round} ${variant.name}: ${fixed(figures.objectsPerSecond, 1)} objects/s, ${fixed(figures.cpuMsPerObject, 2)} worker CPU ms/object, ${figures.exports} exports`,
      );
    }
  }
  await api.proc.stop();
  return rounds;
}

function summary(rounds, fields) {
  const names = [...new Set(rounds.map((round) => round.variant))];
  return Object.fromEntries(
    names.map((name) => [
      name,
      Object.fromEntries(
        fields.map((field) => [field, median(rounds.filter((round) => round.variant === name).map((round) => round[field]))]),
      ),
    ]),
  );
}

async function main() {
  const environment = await prepareEnvironment('tracing');
  const sink = await startSink();
  const result = { scenario: 'tracing', date: new Date().toISOString(), settings };
  if (settings.parts.includes('read')) {
    result.read = await readPart(environment, sink);
    result.readMedians = summary(result.read, ['reqPerSec', 'p50', 'p99', 'cpuMsPerRequest']);
  }
  if (settings.parts.includes('pipeline')) {
    result.pipeline = await pipelinePart(environment, sink);
    result.pipelineMedians = summary(result.pipeline, ['objectsPerSecond', 'cpuMsPerObject']);
  }
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `tracing-${result.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  for (const [name, m] of Object.entries(result.readMedians ?? {})) {
    log(
      `read ${name}: median ${fixed(m.reqPerSec)} req/s (${fixed(m.reqPerSec / result.readMedians.off.reqPerSec, 3)} of off), p50 ${m.p50} p99 ${m.p99} ms, ${fixed(m.cpuMsPerRequest, 3)} CPU ms/req`,
    );
  }
  for (const [name, m] of Object.entries(result.pipelineMedians ?? {})) {
    log(
      `pipeline ${name}: median ${fixed(m.objectsPerSecond, 1)} objects/s (${fixed(m.objectsPerSecond / result.pipelineMedians.off.objectsPerSecond, 3)} of off), ${fixed(m.cpuMsPerObject, 2)} worker CPU ms/object`,
    );
  }
  log(`wrote ${path.relative(process.cwd(), file)}`);
}

runBenchmark(main);
