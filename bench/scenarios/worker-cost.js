'use strict';
/*
 * Scenario "worker-cost": what processing one object costs the worker, beside the lean baseline's worker
 * (bench/baselines/lean-service.js), for finding where the workers' share of the machine goes in the write and read
 * workloads (bench/lib/workloads.js), where every millisecond a worker spends is taken from the API. No target: a
 * diagnostic, steadier than the throughput scenarios because nothing else competes with the workers. Not part of
 * `npm run bench`: run it alone, after `npm run build`:
 *
 *   PATH=$PWD/node_modules/.bin:$PATH node bench/scenarios/worker-cost.js      # ~3 min
 *
 * Each side gets its API and its worker process (MAX_PARALLEL_WORKERS BENCH_WORKER_LIMIT). Per round and side,
 * BENCH_OBJECTS objects (~1 KB JSON, plan validate → transform → enrich → analyze → export) are submitted 16 at a
 * time while the worker processes them; once all are completed, per object: the worker's CPU with its operation
 * processes, split into its own process and the rest; its read and write system calls and context switches (waits
 * and preemptions; every one of them is a wake-up of another process, dear on a virtual machine); PostgreSQL's and
 * Redis's CPU. Round 0 warms both sides up and is not reported; the order alternates. Prints the rounds and medians.
 */
const path = require('node:path');
const { runBenchmark, onCleanup } = require('../lib/cleanup');
const { prepareEnvironment, ROOT, log } = require('../lib/environment');
const { freePort, spawnProcess, waitForLine, cpuMs, ownCpuMs, kernelActivity, backendCpuMs, sleep } = require('../lib/processes');
const { median, fixed } = require('../lib/report');
const { positive } = require('../lib/settings');
const { jsonPayload } = require('../lib/json-payload');

const settings = {
  rounds: positive('BENCH_ROUNDS', 3),
  objects: positive('BENCH_OBJECTS', 600),
  limit: positive('BENCH_WORKER_LIMIT', 3),
  timeoutS: positive('BENCH_PIPELINE_TIMEOUT_S', 600),
};
const PLAN = ['validate', 'transform', 'enrich', 'analyze', 'export'];
const SUBMITTERS = 16;

/** Everything counted per object, in the order printed. */
const MEASURES = [
  ['worker CPU ms', (a, b) => a.cpu - b.cpu],
  ['its own process', (a, b) => a.own - b.own],
  ['its other processes', (a, b) => a.cpu - a.own - (b.cpu - b.own)],
  ['reads', (a, b) => a.kernel.reads - b.kernel.reads],
  ['writes', (a, b) => a.kernel.writes - b.kernel.writes],
  ['waits', (a, b) => a.kernel.waits - b.kernel.waits],
  ['preemptions', (a, b) => a.kernel.preemptions - b.kernel.preemptions],
  ['PostgreSQL CPU ms', (a, b) => a.backends.postgres - b.backends.postgres],
  ['Redis CPU ms', (a, b) => a.backends.redis - b.backends.redis],
];

function reading(workerPid) {
  return { cpu: cpuMs(workerPid), own: ownCpuMs(workerPid), kernel: kernelActivity(workerPid), backends: backendCpuMs() };
}

async function startBaseline(environment) {
  const start = async (name, role, port) => {
    const proc = spawnProcess(
      name,
      path.join(ROOT, 'bench', 'baselines', 'lean-service.js'),
      { ...environment.env, LEAN_ROLE: role, PORT: String(port ?? 0), MAX_PARALLEL_WORKERS: String(settings.limit) },
      environment.work,
    );
    onCleanup(name, () => proc.stop());
    await waitForLine(proc, 'ready');
    return proc;
  };
  const worker = await start('baseline-worker', 'worker');
  const port = await freePort();
  await start('baseline-api', 'api', port);
  return { name: 'baseline', url: `http://127.0.0.1:${port}`, workerPid: worker.pid, table: 'lean_objects' };
}

async function startService(environment) {
  const api = await environment.startService('service-api', 'api');
  const worker = await environment.startService('service-worker', 'worker', { MAX_PARALLEL_WORKERS: String(settings.limit) });
  return { name: 'service', url: api.url, workerPid: worker.proc.pid, table: 'processing_objects' };
}

async function submitAll(side, tag) {
  let next = 0;
  const submitter = async () => {
    while (next < settings.objects) {
      const index = next++;
      const response = await fetch(`${side.url}/api/v1/process`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identifier: `${tag}-${String(index).padStart(6, '0')}`, operations: PLAN, payload: jsonPayload(index) }),
      });
      const body = await response.text();
      if (response.status !== 202) {
        throw new Error(`${side.name}: submission answered ${response.status} ${body}`);
      }
    }
  };
  await Promise.all(Array.from({ length: SUBMITTERS }, submitter));
}

async function measure(environment, side, tag) {
  const count = async () =>
    (
      await environment.db.query(
        `select count(*) filter (where state in ('completed', 'failed', 'cancelled'))::int as settled,
                count(*) filter (where state = 'completed')::int as completed
           from ${side.table} where identifier like $1`,
        [`${tag}-%`],
      )
    ).rows[0];
  const before = reading(side.workerPid);
  const startedAt = Date.now();
  await submitAll(side, tag);
  let counted = await count();
  for (const deadline = startedAt + settings.timeoutS * 1000; counted.settled < settings.objects; counted = await count()) {
    if (Date.now() > deadline) {
      throw new Error(`${side.name} ${tag}: ${counted.settled} of ${settings.objects} settled after ${settings.timeoutS} s`);
    }
    await sleep(100);
  }
  const after = reading(side.workerPid);
  if (counted.completed !== settings.objects) {
    throw new Error(`${side.name} ${tag}: ${counted.completed} of ${settings.objects} completed`);
  }
  return {
    perSecond: (settings.objects * 1000) / (Date.now() - startedAt),
    perObject: Object.fromEntries(MEASURES.map(([label, spent]) => [label, spent(after, before) / settings.objects])),
  };
}

const line = (figures) =>
  `${fixed(figures.perSecond, 1).padStart(6)} objects/s · ` +
  MEASURES.map(([label]) => `${label} ${fixed(figures.perObject[label], 2)}`).join(' · ');

runBenchmark(async () => {
  const environment = await prepareEnvironment('worker-cost');
  const sides = [await startService(environment), await startBaseline(environment)];
  log(`worker-cost: ${settings.objects} objects per round, plan ${PLAN.join(' → ')}, MAX_PARALLEL_WORKERS ${settings.limit}; per object:`);
  const rounds = { service: [], baseline: [] };
  for (let round = 0; round <= settings.rounds; round++) {
    for (const side of round % 2 ? sides : [...sides].reverse()) {
      const figures = await measure(environment, side, `c${round}-${side.name}`);
      if (round > 0) {
        rounds[side.name].push(figures);
        log(`round ${round} ${side.name.padEnd(8)} ${line(figures)}`);
      }
    }
  }
  for (const side of sides) {
    const runs = rounds[side.name];
    const medians = {
      perSecond: median(runs.map((figures) => figures.perSecond)),
      perObject: Object.fromEntries(MEASURES.map(([label]) => [label, median(runs.map((figures) => figures.perObject[label]))])),
    };
    log(`median  ${side.name.padEnd(8)} ${line(medians)}`);
  }
});
