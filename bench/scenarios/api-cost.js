'use strict';
/*
 * Scenario "api-cost": what one request costs the API alone, beside the lean baseline's API
 * (bench/baselines/lean-service.js), for finding where the API's share of the write and read workloads
 * (bench/lib/workloads.js) goes. No target: a diagnostic, with no worker running on either side, so nothing
 * competes with the APIs but PostgreSQL, Redis and the load generator. Not part of `npm run bench`: run it alone,
 * after `npm run build`:
 *
 *   PATH=$PWD/node_modules/.bin:$PATH node bench/scenarios/api-cost.js      # ~4 min
 *
 * BENCH_API_VARIANTS adds service APIs started with other settings, to price a feature by switching it off, e.g.
 *   BENCH_API_VARIANTS='{"no request log": {"LOG_LEVEL": "warn"}, "no rate limits": {"RATE_LIMIT_REQUESTS": "0", "RATE_LIMIT_SUBMISSIONS": "0"}}'
 *
 * Every side is one API process (the service's with its Deployment's NODE_OPTIONS). Per workload, round and side,
 * in rotating order: BENCH_WARMUP s unmeasured, then BENCH_DURATION s of autocannon at BENCH_CONNECTIONS
 * connections; per request: the API's CPU, PostgreSQL's and Redis's (machine-wide), the load generator's (this
 * process: autocannon), the API's read and write system calls, and the bytes of an answer.
 * - write: POST /api/v1/process with a unique identifier, operations ["export"] and the workloads' ~1 KB inline
 *   JSON payload; the jobs wait in the queue (no worker).
 * - read: GET /api/v1/progress/{id} over BENCH_READ_OBJECTS objects of the side, submitted first and then marked
 *   completed in SQL (a queued object's progress has a `waiting` block the baseline does not compute).
 */
const path = require('node:path');
const { runBenchmark, onCleanup } = require('../lib/cleanup');
const { prepareEnvironment, ROOT, log } = require('../lib/environment');
const { freePort, spawnProcess, waitForLine, cpuMs, kernelActivity, backendCpuMs } = require('../lib/processes');
const { median, fixed } = require('../lib/report');
const { positive } = require('../lib/settings');
const { jsonPayload } = require('../lib/json-payload');
const { runLoad } = require('../lib/load');

const settings = {
  rounds: positive('BENCH_ROUNDS', 3),
  durationS: positive('BENCH_DURATION', 8),
  warmupS: positive('BENCH_WARMUP', 2, true),
  connections: positive('BENCH_CONNECTIONS', 32),
  readObjects: positive('BENCH_READ_OBJECTS', 300),
  workloads: (process.env.BENCH_WORKLOADS ?? 'write,read').split(',').filter(Boolean),
  variants: JSON.parse(process.env.BENCH_API_VARIANTS ?? '{}'),
};
const PAYLOAD = JSON.stringify(jsonPayload(1));

/** Everything counted per request, in the order printed. */
const MEASURES = [
  ['API CPU µs', (a, b) => (a.cpu - b.cpu) * 1000],
  ['PostgreSQL µs', (a, b) => (a.backends.postgres - b.backends.postgres) * 1000],
  ['Redis µs', (a, b) => (a.backends.redis - b.backends.redis) * 1000],
  ['load generator µs', (a, b) => (a.harness - b.harness) * 1000],
  ['reads', (a, b) => a.kernel.reads - b.kernel.reads],
  ['writes', (a, b) => a.kernel.writes - b.kernel.writes],
];

function reading(pid) {
  const usage = process.cpuUsage();
  return { cpu: cpuMs(pid), backends: backendCpuMs(), harness: (usage.user + usage.system) / 1000, kernel: kernelActivity(pid) };
}

async function startLean(environment) {
  const port = await freePort();
  const proc = spawnProcess(
    'baseline-api',
    path.join(ROOT, 'bench', 'baselines', 'lean-service.js'),
    {
      ...environment.env,
      LEAN_ROLE: 'api',
      PORT: String(port),
    },
    environment.work,
  );
  onCleanup(proc.name, () => proc.stop());
  await waitForLine(proc, 'ready');
  return { name: 'baseline', url: `http://127.0.0.1:${port}`, pid: proc.pid, table: 'lean_objects', tag: 'b' };
}

async function startServices(environment) {
  const sides = [];
  for (const [name, env] of Object.entries({ service: {}, ...settings.variants })) {
    const { proc, url } = await environment.startService(`api-${sides.length}`, 'api', env);
    sides.push({ name, url, pid: proc.pid, table: 'processing_objects', tag: `s${sides.length}` });
  }
  return sides;
}

/** The side's objects to read: submitted, then completed in SQL, as a finished pipeline leaves them. */
async function prepareReads(environment, side) {
  side.ids = [];
  for (let index = 0; index < settings.readObjects; index++) {
    const response = await fetch(`${side.url}/api/v1/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"identifier":"read-${side.tag}-${index}","operations":["export"],"payload":${PAYLOAD}}`,
    });
    const body = await response.json();
    if (response.status !== 202) {
      throw new Error(`${side.name}: submission answered ${response.status} ${JSON.stringify(body)}`);
    }
    side.ids.push(body.id);
  }
  await environment.db.query(
    `update ${side.table} set state = 'completed', progress = jsonb_set(progress, '{current}', progress -> 'total') where id = any($1)`,
    [side.ids],
  );
}

function requestsOf(workload, side, round) {
  if (workload === 'read') {
    return [
      {
        method: 'GET',
        setupRequest: (request) => ({ ...request, path: `/api/v1/progress/${side.ids[Math.floor(Math.random() * side.ids.length)]}` }),
      },
    ];
  }
  let counter = 0;
  return [
    {
      method: 'POST',
      path: '/api/v1/process',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => ({
        ...request,
        body: `{"identifier":"write-${side.tag}-${round}-${counter++}","operations":["export"],"payload":${PAYLOAD}}`,
      }),
    },
  ];
}

async function measure(workload, side, round) {
  const loadOptions = { url: side.url, connections: settings.connections, requests: requestsOf(workload, side, round) };
  if (settings.warmupS > 0) {
    await runLoad(loadOptions, settings.warmupS);
  }
  const before = reading(side.pid);
  const result = await runLoad(loadOptions, settings.durationS);
  const after = reading(side.pid);
  if (result.non2xx || result.errors || result.timeouts) {
    throw new Error(`${side.name} ${workload}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  const answered = result.requests.total;
  return {
    perSecond: answered / settings.durationS,
    bytes: result.throughput.total / answered,
    perRequest: Object.fromEntries(MEASURES.map(([label, spent]) => [label, spent(after, before) / answered])),
  };
}

const line = (figures) =>
  `${fixed(figures.perSecond, 0).padStart(6)} req/s · ${fixed(figures.bytes, 0)} B an answer · ` +
  MEASURES.map(([label]) => `${label} ${fixed(figures.perRequest[label], label.endsWith('µs') ? 0 : 2)}`).join(' · ');

runBenchmark(async () => {
  const environment = await prepareEnvironment('api-cost');
  const sides = [...(await startServices(environment)), await startLean(environment)];
  const width = Math.max(...sides.map((side) => side.name.length));
  for (const workload of settings.workloads) {
    if (workload === 'read') {
      for (const side of sides) {
        await prepareReads(environment, side);
      }
    }
    log(`api-cost ${workload}: ${settings.connections} connections, ${settings.durationS} s per round and side; per request:`);
    const rounds = Object.fromEntries(sides.map((side) => [side.name, []]));
    for (let round = 1; round <= settings.rounds; round++) {
      const shift = (round - 1) % sides.length;
      for (const side of [...sides.slice(shift), ...sides.slice(0, shift)]) {
        const figures = await measure(workload, side, round);
        rounds[side.name].push(figures);
        log(`${workload} round ${round} ${side.name.padEnd(width)} ${line(figures)}`);
      }
    }
    for (const side of sides) {
      const runs = rounds[side.name];
      log(
        `${workload} median  ${side.name.padEnd(width)} ${line({
          perSecond: median(runs.map((figures) => figures.perSecond)),
          bytes: median(runs.map((figures) => figures.bytes)),
          perRequest: Object.fromEntries(MEASURES.map(([label]) => [label, median(runs.map((figures) => figures.perRequest[label]))])),
        })}`,
      );
    }
  }
});
