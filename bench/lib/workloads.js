'use strict';
/*
 * The workloads a user of the service recognises, each against the leanest honest implementation of the same
 * user-visible outcome (bench/baselines/lean-service.js), on one topology:
 *
 *   quickstart  the Quick start as shipped: `node scripts/start-local.js` (APP_ROLE all, its own local S3, access
 *               control on: the harness sends the API key it prints at first start), vs one baseline process;
 *   split       separate API and worker processes of the built service (access control off, as the other
 *               scenarios), vs a baseline API process and a baseline worker process.
 *
 *   write     POST /api/v1/process with a ~1 KB inline JSON payload and operations ["export"] while the workers
 *             process what arrives: req/s (autocannon).
 *   pipeline  a batch of objects (~1 KB JSON, plan validate → transform → enrich → analyze → export) submitted and
 *             processed at MAX_PARALLEL_WORKERS 3 and 16: objects / (last finished_at − first created_at).
 *   read      GET /api/v1/progress/{id} over completed objects while a backlog is being processed: req/s.
 *
 * Rounds alternate which side goes first; headline figures are medians. CPU ms per request (per object for the
 * pipeline) of every process involved is read from /proc over each measured window, with the machine's busy time
 * and load average, so what the rest of the machine did is on record too. Both sides' work is checked alike
 * (rows, artifacts in S3, answers) before anything is compared.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const { Queue } = require('bullmq');
const { ListObjectsCommand, S3Client } = require('@aws-sdk/client-s3');
const { onCleanup } = require('./cleanup');
const { prepareEnvironment, log, ROOT } = require('./environment');
const { freePort, spawnProcess, waitForHttp, waitForLine, cpuMs, backendCpuMs, sleep } = require('./processes');
const { describeMachine, machineTable, median, fixed, ratioText, saveResult } = require('./report');
const { positive } = require('./settings');
const { jsonPayload } = require('./json-payload');
const { runLoad } = require('./load');

const settings = {
  rounds: positive('BENCH_ROUNDS', 3),
  durationS: positive('BENCH_DURATION', 10),
  warmupS: positive('BENCH_WARMUP', 3, true),
  connections: positive('BENCH_CONNECTIONS', 32),
  pipelineObjects: positive('BENCH_PIPELINE_OBJECTS', 300),
  limits: (process.env.BENCH_PIPELINE_LIMITS ?? '3,16').split(',').map(Number),
  records: positive('BENCH_PIPELINE_RECORDS', 9),
  readBacklog: positive('BENCH_READ_BACKLOG', 1000),
  timeoutS: positive('BENCH_PIPELINE_TIMEOUT_S', 600),
  workloads: (process.env.BENCH_WORKLOADS ?? 'write,pipeline,read')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean),
  // Extra variables of every service process, for experiments (pricing a feature by switching it off); the report says so.
  serviceEnv: JSON.parse(process.env.BENCH_SERVICE_ENV ?? '{}'),
};
const DEFAULT_LIMIT = 3;
const TARGETS = { write: 0.7, pipeline: 0.6, read: 0.8 };
const PLAN = ['validate', 'transform', 'enrich', 'analyze', 'export'];
// Another start script (e.g. the one of an earlier commit, copied beside it) for before/after figures.
const START_LOCAL = path.resolve(process.env.BENCH_QUICKSTART_SCRIPT ?? path.join(ROOT, 'scripts', 'start-local.js'));
const LEAN_SERVICE = path.join(ROOT, 'bench', 'baselines', 'lean-service.js');
const PAYLOAD = JSON.stringify(jsonPayload(0, settings.records));

for (const name of settings.workloads) {
  if (!TARGETS[name]) {
    console.error(`Unknown workload '${name}' in BENCH_WORKLOADS; known: ${Object.keys(TARGETS).join(', ')}`);
    process.exit(2);
  }
}

// ------------------------------------------------------------------------------------------------ CPU and load

/** Busy time of the whole machine so far, in ms (/proc/stat: everything but idle and iowait). */
function machineBusyMs() {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return ((total - fields[3] - fields[4]) * 1000) / 100;
}

/** Pids of the descendants of `pid` whose command line mentions `needle` (the Quick start's local S3 child). */
function descendantsRunning(pid, needle) {
  const found = [];
  for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (!fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) {
        continue;
      }
      for (let parent = entry; parent && parent !== '1' && parent !== '0';) {
        const stat = fs.readFileSync(`/proc/${parent}/stat`, 'utf8');
        parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
        if (parent === String(pid)) {
          found.push(Number(entry));
          break;
        }
      }
    } catch {
      // exited while listed
    }
  }
  return found;
}

/**
 * A reading of every process involved: each side's processes (by label; a process's CPU includes its
 * descendants, except those measured under a label of their own), the harness's s3rver, PostgreSQL, Redis, the
 * harness itself (the load generator) and the whole machine.
 */
function cpuReading(processes) {
  const own = {};
  for (const { label, pid, minus = [] } of processes) {
    const total = cpuMs(pid);
    own[label] = total === null ? null : total - minus.reduce((sum, other) => sum + (cpuMs(other) ?? 0), 0);
  }
  const usage = process.cpuUsage();
  return { own, backends: backendCpuMs(), harness: (usage.user + usage.system) / 1000, machine: machineBusyMs(), at: Date.now() };
}

/** CPU ms per unit (request or object) of every process between two readings, with the rest of the machine's. */
function cpuPerUnit(before, after, units) {
  const per = {};
  let ours = 0;
  for (const label of Object.keys(after.own)) {
    const spent = after.own[label] !== null && before.own[label] !== null ? after.own[label] - before.own[label] : null;
    per[label] = spent === null ? null : spent / units;
    ours += spent ?? 0;
  }
  for (const kind of ['postgres', 'redis']) {
    const spent = after.backends && before.backends ? after.backends[kind] - before.backends[kind] : null;
    per[kind === 'postgres' ? 'PostgreSQL' : 'Redis'] = spent === null ? null : spent / units;
    ours += spent ?? 0;
  }
  per['load generator'] = (after.harness - before.harness) / units;
  ours += after.harness - before.harness;
  const machine = after.machine - before.machine;
  per['rest of the machine'] = Math.max(0, machine - ours) / units;
  return { perUnit: per, machineBusyPercent: (100 * machine) / ((after.at - before.at) * os.cpus().length) };
}

const cpuText = (perUnit) =>
  Object.entries(perUnit)
    .map(([label, value]) => `${label} ${fixed(value, value !== null && value < 1 ? 3 : 2)}`)
    .join(' · ');

// ------------------------------------------------------------------------------------------------ load

const okCount = (result, status) => result.statusCodeStats[String(status)]?.count ?? 0;
const statusCodes = (result) => ({
  ...Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stats]) => [code, stats.count])),
  ...(result.errors ? { errors: result.errors } : {}),
  ...(result.timeouts ? { timeouts: result.timeouts } : {}),
});

async function submit(side, identifier, index) {
  const response = await fetch(`${side.url}/api/v1/process`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...side.headers },
    body: JSON.stringify({ identifier, operations: ['export'], payload: jsonPayload(index, settings.records), metadata: { bench: true } }),
  });
  const body = await response.json();
  if (response.status !== 202) {
    throw new Error(`${side.name}: submission of ${identifier} answered ${response.status} ${JSON.stringify(body)}`);
  }
  return body;
}

async function submitMany(side, tag, count) {
  let next = 0;
  const one = async () => {
    while (next < count) {
      const index = next++;
      await submit(side, `${tag}-${String(index).padStart(6, '0')}`, index);
    }
  };
  await Promise.all(Array.from({ length: 16 }, one));
}

// ------------------------------------------------------------------------------------------------ sides

/** What both sides' rows have in common, by table: the service's processing_objects, the baseline's lean_objects. */
function rowsOf(db, table) {
  return {
    table,
    async settled(tag) {
      const { rows } = await db.query(
        `select count(*) filter (where state in ('completed', 'failed', 'cancelled'))::int as settled, count(*)::int as total from ${table} where identifier like $1`,
        [`${tag}-%`],
      );
      return rows[0];
    },
    async batch(tag) {
      const { rows } = await db.query(
        `select id, identifier, state, progress, s3_artifacts, operations_status, created_at, finished_at from ${table} where identifier like $1 order by identifier`,
        [`${tag}-%`],
      );
      return rows;
    },
    async span(tag) {
      const { rows } = await db.query(
        `select extract(epoch from max(finished_at) - min(created_at)) * 1000 as ms from ${table} where identifier like $1`,
        [`${tag}-%`],
      );
      return Number(rows[0].ms);
    },
    async completedIds(like, limit) {
      const { rows } = await db.query(
        `select id from ${table} where identifier like $1 and state = 'completed' order by random() limit $2`,
        [like, limit],
      );
      return rows.map((row) => row.id);
    },
    /** Rows whose job the harness removed from the queue: cancelled, so nothing puts them back in the queue. */
    cancelQueued: () => db.query(`update ${table} set state = 'cancelled', finished_at = now() where state = 'queued'`),
    busy: async () => (await db.query(`select count(*)::int as n from ${table} where state = 'processing'`)).rows[0].n,
  };
}

function s3ClientFor(endpoint) {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

async function listKeys(s3, bucket, prefix) {
  const keys = new Map();
  // ListObjects (v1) paged by Marker: s3rver fails a truncated v2 listing on Node 24 (its continuation-token cipher is gone).
  let after;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: after }));
    for (const entry of page.Contents ?? []) {
      keys.set(entry.Key, entry.Size);
    }
    if (!page.IsTruncated || !page.Contents?.length) {
      break;
    }
    after = page.Contents.at(-1).Key;
  }
  return keys;
}

/** The environment the Quick start gets: the scenario's database and Redis prefix, its own local S3, no S3 or access settings of the harness. */
function quickStartEnv(env, extra) {
  const result = { ...env, ...extra };
  for (const name of [
    'S3_ENDPOINT',
    'S3_FORCE_PATH_STYLE',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AUTH_REQUIRED',
    'NODE_OPTIONS',
  ]) {
    delete result[name];
  }
  return result;
}

function sidesFor(topology, environment) {
  const { env, work, db, redisUrl, prefix, runId } = environment;
  const queues = new Map();
  const queueOf = (name) => {
    if (!queues.has(name)) {
      const queue = new Queue(name, { connection: { url: redisUrl }, prefix });
      onCleanup(`the ${name} queue connection`, () => queue.close());
      queues.set(name, queue);
    }
    return queues.get(name);
  };
  const harnessS3 = { client: s3ClientFor(environment.s3.endpoint), bucket: env.S3_BUCKET };
  const quickStart = { apiKey: null, bucket: `bench-quickstart-${runId}`.toLowerCase(), s3Port: null };
  const baselineKey = `lean_${randomBytes(24).toString('base64url')}`;
  let generation = 0;

  async function startService(limit) {
    generation++;
    if (topology === 'quickstart') {
      const port = await freePort();
      quickStart.s3Port ??= await freePort();
      const proc = spawnProcess(
        `service-quickstart-${generation}`,
        START_LOCAL,
        quickStartEnv(env, {
          PORT: String(port),
          LOCAL_S3_PORT: String(quickStart.s3Port),
          S3_BUCKET: quickStart.bucket,
          ...(limit === DEFAULT_LIMIT ? {} : { MAX_PARALLEL_WORKERS: String(limit) }),
          ...settings.serviceEnv,
        }),
        work,
      );
      onCleanup(proc.name, () => proc.stop());
      onCleanup('the Quick start bucket in .s3rver/', () =>
        fs.rmSync(path.join(ROOT, '.s3rver', quickStart.bucket), { recursive: true, force: true }),
      );
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}/health/ready`, proc, { timeoutMs: 180_000 });
      quickStart.apiKey ??= /^ {2}(opsk_\S+)$/m.exec(fs.readFileSync(proc.logFile, 'utf8'))?.[1] ?? null;
      if (!quickStart.apiKey) {
        throw new Error(`the Quick start printed no API key at its first start:\n${proc.tail()}`);
      }
      const s3Children = descendantsRunning(proc.pid, 'local-s3');
      const processes = [
        { label: s3Children.length ? 'service' : 'service (with its in-process S3)', pid: proc.pid, minus: s3Children },
        ...s3Children.map((pid) => ({ label: 'service S3 process', pid })),
      ];
      return {
        procs: [proc],
        processes,
        url,
        headers: { authorization: `Bearer ${quickStart.apiKey}` },
        s3: { client: s3ClientFor(`http://127.0.0.1:${quickStart.s3Port}`), bucket: quickStart.bucket },
      };
    }
    const api = await environment.startService(`service-api-${generation}`, 'api', settings.serviceEnv);
    const worker = await environment.startService(`service-worker-${generation}`, 'worker', {
      MAX_PARALLEL_WORKERS: String(limit),
      ...settings.serviceEnv,
    });
    return {
      procs: [api.proc, worker.proc],
      processes: [
        { label: 'service API', pid: api.proc.pid },
        { label: 'service worker', pid: worker.proc.pid },
      ],
      url: api.url,
      headers: {},
      s3: harnessS3,
    };
  }

  async function startBaseline(limit) {
    generation++;
    const start = async (name, role, port) => {
      const proc = spawnProcess(
        `${name}-${generation}`,
        LEAN_SERVICE,
        {
          ...env,
          LEAN_ROLE: role,
          PORT: String(port ?? 0),
          MAX_PARALLEL_WORKERS: String(limit),
          ...(topology === 'quickstart' ? { LEAN_API_KEY: baselineKey } : {}),
        },
        work,
      );
      onCleanup(proc.name, () => proc.stop());
      await waitForLine(proc, 'ready');
      return proc;
    };
    const port = await freePort();
    const procs =
      topology === 'quickstart'
        ? [await start('baseline', 'all', port)]
        : [await start('baseline-worker', 'worker'), await start('baseline-api', 'api', port)];
    return {
      procs,
      processes:
        topology === 'quickstart'
          ? [{ label: 'baseline', pid: procs[0].pid }]
          : [
              { label: 'baseline worker', pid: procs[0].pid },
              { label: 'baseline API', pid: procs[1].pid },
            ],
      url: `http://127.0.0.1:${port}`,
      headers: topology === 'quickstart' ? { authorization: `Bearer ${baselineKey}` } : {},
      s3: harnessS3,
    };
  }

  const make = (name, queueName, table, starter) => {
    const side = { name, queue: queueOf(queueName), rows: rowsOf(db, table), running: null };
    side.start = async (limit) => {
      if (side.running) {
        await Promise.all(side.running.procs.map((proc) => proc.stop()));
        // The Quick start's S3 process ends once its parent has: its port is taken again by the next start.
        const children = side.running.processes.filter((p) => p.label === 'service S3 process').map((p) => p.pid);
        for (const deadline = Date.now() + 30_000; children.some((pid) => fs.existsSync(`/proc/${pid}`)) && Date.now() < deadline;) {
          await sleep(100);
        }
      }
      side.running = await starter(limit);
      Object.assign(side, side.running);
      // A warm-up batch, not measured: the first jobs pay for compiling code, opening connections and starting operation processes.
      const warm = `warm${limit}-${name}`;
      await submitMany(side, warm, 2 * limit);
      for (const deadline = Date.now() + 120_000; (await side.rows.settled(warm)).settled < 2 * limit; await sleep(200)) {
        side.alive();
        if (Date.now() > deadline) {
          throw new Error(`${name}: the warm-up batch did not settle in 120 s`);
        }
      }
      log(
        `${topology}: ${name} at MAX_PARALLEL_WORKERS=${limit} on ${side.url} (${side.processes.map((p) => `${p.label} pid ${p.pid}`).join(', ')})`,
      );
    };
    side.alive = () => {
      for (const proc of side.procs) {
        if (!proc.running()) {
          throw new Error(`${proc.name} exited:\n${proc.tail()}`);
        }
      }
    };
    /** Nothing left to do: waiting jobs removed (their rows cancelled), running ones finished. */
    side.quiesce = async () => {
      await side.queue.drain(true);
      await side.rows.cancelQueued();
      const deadline = Date.now() + 180_000;
      while ((await side.queue.getActiveCount()) > 0 || (await side.rows.busy()) > 0) {
        side.alive();
        if (Date.now() > deadline) {
          throw new Error(`${name}: jobs still running 180 s after the queue was drained`);
        }
        await sleep(250);
      }
    };
    return side;
  };
  return {
    service: make('service', 'objects', 'processing_objects', startService),
    baseline: make('baseline', 'lean-objects', 'lean_objects', startBaseline),
  };
}

const sharedProcesses = (environment) => (environment.s3.pid ? [{ label: 'harness s3rver', pid: environment.s3.pid }] : []);

// ------------------------------------------------------------------------------------------------ checks

/** The keys of a JSON value, recursively (values left out): the shape both sides must answer with. */
function shapeOf(value) {
  if (Array.isArray(value)) {
    return value.length ? [shapeOf(value[0])] : [];
  }
  if (value === null || typeof value !== 'object') {
    return value === null ? 'null' : typeof value;
  }
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, shapeOf(value[key])]),
  );
}

/** Both sides refuse a request without the key (Quick start), accept a submission with the same answer, finish it alike and report its progress alike. */
async function checkSameAnswers(topology, sides) {
  const answers = {};
  for (const side of [sides.service, sides.baseline]) {
    if (topology === 'quickstart') {
      const refused = await fetch(`${side.url}/api/v1/process`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      if (refused.status !== 401) {
        throw new Error(`${side.name} answered ${refused.status} to a submission without an API key`);
      }
    }
    const tag = `check-${side.name}`;
    const accepted = await submit(side, `${tag}-000000`, 0);
    const deadline = Date.now() + 60_000;
    while ((await side.rows.settled(tag)).settled < 1) {
      if (Date.now() > deadline) {
        throw new Error(`${side.name}: the check object did not settle in 60 s`);
      }
      await sleep(200);
    }
    const response = await fetch(`${side.url}/api/v1/progress/${accepted.id}`, { headers: side.headers });
    const progress = await response.json();
    answers[side.name] = {
      accepted: { keys: Object.keys(accepted).sort(), state: accepted.state, taskId: accepted.task_id === `${accepted.id}.1` },
      progress: {
        status: response.status,
        shape: shapeOf(progress),
        state: progress.state,
        progress: progress.progress,
        artifacts: Object.keys(progress.s3_artifacts).sort(),
      },
    };
  }
  const [service, baseline] = [JSON.stringify(answers.service), JSON.stringify(answers.baseline)];
  if (service !== baseline || answers.service.progress.state !== 'completed') {
    throw new Error(`${topology}: the service and the baseline answer differently:\n${service}\n${baseline}`);
  }
  return answers.service;
}

/** Every object of a batch completed, progress 5/5, five artifacts recorded, and every recorded artifact and file in S3. */
async function verifyBatch(side, tag, count) {
  const rows = await side.rows.batch(tag);
  const problems = [];
  if (rows.length !== count) {
    problems.push(`${rows.length} rows instead of ${count}`);
  }
  const keys = await listKeys(side.s3.client, side.s3.bucket, `${tag}-`);
  const bytes = {};
  for (const row of rows) {
    const recorded = Object.keys(row.s3_artifacts ?? {});
    if (row.state !== 'completed' || row.progress?.current !== PLAN.length || recorded.length !== PLAN.length) {
      problems.push(`${row.identifier}: ${row.state}, progress ${row.progress?.current}, ${recorded.length} artifacts recorded`);
    }
    const urls = [
      ...Object.values(row.s3_artifacts ?? {}),
      ...Object.values(row.operations_status ?? {}).flatMap((status) => status.files ?? []),
    ];
    for (const url of urls) {
      const key = url.slice(`s3://${side.s3.bucket}/`.length);
      if (!keys.has(key)) {
        problems.push(`${row.identifier}: ${url} is not in S3`);
      }
      const kind = key.slice(key.indexOf('/') + 1);
      bytes[kind] = (bytes[kind] ?? 0) + (keys.get(key) ?? 0);
    }
  }
  if (problems.length) {
    throw new Error(`${side.name} ${tag} did not do the whole work:\n${problems.slice(0, 20).join('\n')}`);
  }
  return Object.fromEntries(Object.entries(bytes).map(([kind, total]) => [kind, Math.round(total / Math.max(1, rows.length))]));
}

// ------------------------------------------------------------------------------------------------ workloads

async function measureWrite(side, shared, round) {
  await side.quiesce();
  const tag = `w${round}-${side.name}`;
  let counter = 0;
  const options = {
    url: side.url,
    connections: settings.connections,
    requests: [
      {
        method: 'POST',
        path: '/api/v1/process',
        headers: { 'content-type': 'application/json', ...side.headers },
        setupRequest: (request) => ({
          ...request,
          body: `{"identifier":"${tag}-${String(counter++).padStart(6, '0')}","operations":["export"],"payload":${PAYLOAD}}`,
        }),
      },
    ],
  };
  const warm = settings.warmupS > 0 ? await runLoad(options, settings.warmupS) : null;
  const processedBefore = (await side.rows.settled(tag)).settled;
  const before = cpuReading([...side.processes, ...shared]);
  const result = await runLoad(options, settings.durationS);
  const after = cpuReading([...side.processes, ...shared]);
  const { settled, total } = await side.rows.settled(tag);
  side.alive();
  const accepted = (warm ? okCount(warm, 202) : 0) + okCount(result, 202);
  // Requests in flight when autocannon stops are not counted, but may still be stored: at most one per connection and run.
  if (total < accepted || total > accepted + 2 * settings.connections) {
    throw new Error(`${side.name} ${tag}: ${accepted} submissions accepted but ${total} rows stored`);
  }
  await side.quiesce();
  return loadFigures(result, 202, settled - processedBefore, cpuPerUnit(before, after, result.requests.total));
}

async function measurePipeline(side, shared, limit, round) {
  await side.quiesce();
  const tag = `p${limit}-${round}-${side.name}`;
  const count = settings.pipelineObjects;
  const loadAverage = os.loadavg()[0];
  const before = cpuReading([...side.processes, ...shared]);
  await submitMany(side, tag, count);
  const deadline = Date.now() + settings.timeoutS * 1000;
  while ((await side.rows.settled(tag)).settled < count) {
    side.alive();
    if (Date.now() > deadline) {
      throw new Error(`${side.name} ${tag}: not settled after ${settings.timeoutS} s`);
    }
    await sleep(100);
  }
  const after = cpuReading([...side.processes, ...shared]);
  const ms = await side.rows.span(tag);
  const bytesPerObject = await verifyBatch(side, tag, count);
  return { perSecond: (count * 1000) / ms, ms: Math.round(ms), loadAverage, bytesPerObject, ...cpuPerUnit(before, after, count) };
}

async function measureRead(side, shared, round, ids) {
  await side.quiesce();
  const backlog = `r${round}-${side.name}`;
  await submitMany(side, backlog, settings.readBacklog);
  let next = 0;
  const paths = ids.map((id) => `/api/v1/progress/${id}`);
  const options = {
    url: side.url,
    connections: settings.connections,
    requests: [{ method: 'GET', headers: side.headers, setupRequest: (request) => ({ ...request, path: paths[next++ % paths.length] }) }],
  };
  if (settings.warmupS > 0) {
    await runLoad(options, settings.warmupS);
  }
  const processedBefore = (await side.rows.settled(backlog)).settled;
  const before = cpuReading([...side.processes, ...shared]);
  const result = await runLoad(options, settings.durationS);
  const after = cpuReading([...side.processes, ...shared]);
  const { settled } = await side.rows.settled(backlog);
  side.alive();
  await side.quiesce();
  return {
    ...loadFigures(result, 200, settled - processedBefore, cpuPerUnit(before, after, result.requests.total)),
    backlogRanDry: settled >= settings.readBacklog,
  };
}

/** What one autocannon run of a side measured: answers with `status` per second, the rest as failures, and what its workers processed meanwhile. */
function loadFigures(result, status, processed, cpu) {
  const ok = okCount(result, status);
  return {
    perSecond: ok / result.duration,
    failed: result.requests.total - ok + result.errors + result.timeouts,
    statusCodes: statusCodes(result),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    processedPerSecond: processed / result.duration,
    loadAverage: os.loadavg()[0],
    ...cpu,
  };
}

/** Runs `measure(side)` for both sides, `rounds` times, the first side alternating; logs each figure. */
async function alternate(label, unit, sides, measure) {
  const rounds = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const order = round % 2 ? ['service', 'baseline'] : ['baseline', 'service'];
    const figures = {};
    for (const name of order) {
      const f = await measure(sides[name], round);
      figures[name] = f;
      log(
        `${label} round ${round} ${name.padEnd(8)} ${fixed(f.perSecond, 1).padStart(7)} ${unit}` +
          `${f.latencyMs ? `  p50 ${f.latencyMs.p50} p99 ${f.latencyMs.p99} ms` : ''}${f.processedPerSecond !== undefined ? `  workers ${fixed(f.processedPerSecond, 1)} objects/s` : ''}` +
          `  machine ${fixed(f.machineBusyPercent)} % busy, load ${fixed(f.loadAverage, 1)}${f.failed ? `  FAILED ${f.failed} ${JSON.stringify(f.statusCodes)}` : ''}${f.backlogRanDry ? '  (backlog ran dry)' : ''}\n` +
          `[bench]   CPU ms per ${unit === 'req/s' ? 'request' : 'object'}: ${cpuText(f.perUnit)}`,
      );
    }
    rounds.push({ round, first: order[0], ...figures });
  }
  return rounds;
}

function summarize(workload, name, unit, rounds, extra = {}) {
  const medianOf = (side, get) => median(rounds.map((round) => get(round[side])));
  const service = medianOf('service', (f) => f.perSecond);
  const baseline = medianOf('baseline', (f) => f.perSecond);
  const cpu = (side) => {
    const labels = Object.keys(rounds[0][side].perUnit);
    return Object.fromEntries(labels.map((label) => [label, medianOf(side, (f) => f.perUnit[label])]));
  };
  const cpus = { service: cpu('service'), baseline: cpu('baseline') };
  // The same comparison by CPU spent per unit (each side's processes, its S3, PostgreSQL, Redis): steadier than
  // throughput when other work shares the machine.
  const spent = (side) => sideCpu(cpus[side]) + (cpus[side].PostgreSQL ?? 0) + (cpus[side].Redis ?? 0);
  const cpuRatio = spent('service') > 0 ? spent('baseline') / spent('service') : null;
  return {
    workload,
    name,
    unit,
    service,
    baseline,
    ratio: service && baseline ? service / baseline : null,
    cpuRatio,
    target: TARGETS[workload],
    cpu: cpus,
    rounds,
    ...extra,
  };
}

/** Service ÷ baseline within each round. */
const pairedRatios = (rounds) => rounds.map((round) => round.service.perSecond / round.baseline.perSecond);

/** CPU of one side's processes with the S3 that served it (the Quick start's own, or the harness's), summed per unit. */
const sideCpu = (perUnit) =>
  Object.entries(perUnit)
    .filter(([label]) => label.startsWith('service') || label.startsWith('baseline') || label === 'harness s3rver')
    .reduce((sum, [, v]) => sum + (v ?? 0), 0);

// ------------------------------------------------------------------------------------------------ report

function roundTable(result) {
  const perUnit = result.unit === 'req/s' ? 'request' : 'object';
  const lines = [
    `| round | side | ${result.unit} | ${result.unit === 'req/s' ? 'p50 / p99 ms | workers objects/s | ' : 'ms | '}machine busy %, load | CPU ms per ${perUnit}, by process |`,
    `|---|---|---|${result.unit === 'req/s' ? '---|---|' : '---|'}---|---|`,
  ];
  for (const round of result.rounds) {
    for (const side of round.first === 'service' ? ['service', 'baseline'] : ['baseline', 'service']) {
      const f = round[side];
      const middle =
        result.unit === 'req/s'
          ? `${f.latencyMs.p50} / ${f.latencyMs.p99} | ${fixed(f.processedPerSecond, 1)}${f.backlogRanDry ? ' (ran dry)' : ''} | `
          : `${f.ms} | `;
      lines.push(
        `| ${round.round} | ${side} | ${fixed(f.perSecond, 1)}${f.failed ? ` (${f.failed} failed)` : ''} | ${middle}${fixed(f.machineBusyPercent)} %, ${fixed(f.loadAverage, 1)} | ${cpuText(f.perUnit)} |`,
      );
    }
  }
  lines.push(
    `| **median** | service | **${fixed(result.service, 1)}** | ${result.unit === 'req/s' ? '| | ' : '| '}| ${cpuText(result.cpu.service)} |`,
    `| **median** | baseline | **${fixed(result.baseline, 1)}** | ${result.unit === 'req/s' ? '| | ' : '| '}| ${cpuText(result.cpu.baseline)} |`,
    '',
    `Ratio service ÷ baseline: **${ratioText(result.ratio, `≥ ${result.target}`)}** (target ≥ ${result.target.toFixed(2)}); by CPU per ${perUnit} ` +
      `(baseline ÷ service, each side's processes with its S3, PostgreSQL and Redis): ${fixed(result.cpuRatio, 2)}.`,
    // The headline divides the two sides' medians. A round's two sides run back to back, so each round's own ratio
    // also cancels the machine speeding up or slowing down between rounds: shown for telling noise from change.
    `Each round's own ratio: ${pairedRatios(result.rounds)
      .map((ratio) => fixed(ratio, 2))
      .join(', ')}; their median ${fixed(median(pairedRatios(result.rounds)), 2)}.`,
  );
  return lines.join('\n');
}

function describeTopology(topology) {
  const experiment = Object.keys(settings.serviceEnv).length
    ? ` **An experiment, not the service as shipped:** every service process also had ${Object.entries(settings.serviceEnv)
        .map(([name, value]) => `${name}=${value}`)
        .join(', ')} (BENCH_SERVICE_ENV).`
    : '';
  return describeShippedTopology(topology) + experiment;
}

function describeShippedTopology(topology) {
  return topology === 'quickstart'
    ? 'The Quick start as shipped: `node scripts/start-local.js` (what `npm start` runs after its install and build step) with its defaults — APP_ROLE all, ' +
        'MAX_PARALLEL_WORKERS 3 (16 only for the pipeline at 16), access control on (the harness sends the API key it printed at first start), its own ' +
        "local S3 on a free LOCAL_S3_PORT with a bucket of the run in `.s3rver/` (removed at the end), no NODE_OPTIONS — on the scenario's database and " +
        'Redis prefix, with RATE_LIMIT_REQUESTS and RATE_LIMIT_SUBMISSIONS at 1,000,000,000 (counted, never refusing) and TEAM_MAX_QUEUED_OBJECTS too ' +
        '(a write workload queues more than 10,000 objects). Baseline: one ' +
        '`bench/baselines/lean-service.js` process (LEAN_ROLE=all) checking an API key too, on an s3rver in a process of the harness.' +
        (process.env.BENCH_QUICKSTART_SCRIPT ? ` Start script: \`${path.relative(ROOT, START_LOCAL)}\` (BENCH_QUICKSTART_SCRIPT).` : '')
    : 'Separate processes of the built service: one APP_ROLE=api and one APP_ROLE=worker, each with the NODE_OPTIONS of its Deployment in deploy/, ' +
        'access control off, the same raised rate limits, on an s3rver in a process of the harness. Baseline: a `bench/baselines/lean-service.js` API ' +
        'process (LEAN_ROLE=api) and worker process (LEAN_ROLE=worker) on the same s3rver.';
}

const METHOD = `Every side stays up through its workloads; the two sides alternate which goes first per round; headline figures are medians
of ${settings.rounds} rounds. Before a measurement, the side's queue is drained, rows left queued are marked cancelled and running jobs finish.

- **write**: autocannon, ${settings.connections} connections, ${settings.warmupS} s warm-up then ${settings.durationS} s measured, \`POST /api/v1/process\` with a unique
  identifier, \`operations: ["export"]\` and a ${PAYLOAD.length} B inline JSON payload, while the workers (MAX_PARALLEL_WORKERS ${DEFAULT_LIMIT}) process what
  arrives; req/s counts the 202s; every accepted submission must have its row. "workers objects/s" is what the side's workers finished meanwhile.
- **pipeline**: ${settings.pipelineObjects} objects with the same kind of payload submitted (16 at a time) and processed at MAX_PARALLEL_WORKERS 3 and 16;
  objects/s = objects ÷ (last \`finished_at\` − first \`created_at\`), submission included, process start-up not. Every object must be completed with
  progress 5/5, five artifacts recorded, and every recorded artifact and file present in S3; CPU is per object over submission and processing.
- **read**: ${settings.readBacklog} objects are submitted as a backlog, then autocannon (as for write) sends \`GET /api/v1/progress/{id}\` over up to 1,000
  completed objects of the side's pipeline batches, in a random order, while the workers process the backlog ("ran dry" flags a backlog that ended
  before the measurement did). Completed objects, because the service adds a \`waiting\` block (queue position) to a queued object's progress, which the
  baseline does not compute.
- CPU: user + system time from /proc of each process over the measured window, per request (per object for the pipeline), with its descendants (the
  service worker's operation processes) except those listed apart (the Quick start's S3 process); PostgreSQL and Redis are machine-wide; "load
  generator" is the harness process (autocannon, the submissions); "rest of the machine" is the machine's busy time not accounted for by any of
  these (other people's work on a shared machine). "machine busy %" is of all cores.

The baseline (\`bench/baselines/lean-service.js\`) is the leanest honest implementation of the same user-visible outcome: Fastify with JSON-schema
validation, one INSERT of the row with the payload inline in PostgreSQL (its own table \`lean_objects\`) and one BullMQ job, the same 202 JSON; the
progress JSON from one SELECT by primary key; a BullMQ worker that per object moves the row to processing, and per operation computes the service's
content (\`bench/baselines/json-operations.js\`, statistics by the service's own FieldStatistics), PUTs its result file and files (the service's keys and
about its bytes) to S3, records status, artifact and progress in one UPDATE and PUBLISHes the progress JSON on Redis. No event log, no per-object
source file in S3, no ORM, no logging: what the ratio prices is everything the service does beyond what its user sees.`;

// ------------------------------------------------------------------------------------------------ main

async function runWorkloads(topology) {
  const date = new Date().toISOString();
  const environment = await prepareEnvironment(topology, { s3Process: true });
  const machine = await describeMachine(environment.db, environment.redis);
  const sides = sidesFor(topology, environment);
  const shared = sharedProcesses(environment);
  log(
    `${topology}: workloads ${settings.workloads.join(', ')}; ${settings.rounds} rounds; load average ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(', ')}`,
  );
  if (Object.keys(settings.serviceEnv).length) {
    log(`an experiment: every service process also gets ${JSON.stringify(settings.serviceEnv)} (BENCH_SERVICE_ENV)`);
  }

  const results = [];
  const limits = settings.workloads.includes('pipeline') ? settings.limits : [];
  // Write and read run at the default limit, after the pipeline at it (read follows objects it completed).
  const atDefault = settings.workloads.some((name) => name !== 'pipeline') || limits.includes(DEFAULT_LIMIT);
  const order = [...(atDefault ? [DEFAULT_LIMIT] : []), ...limits.filter((limit) => limit !== DEFAULT_LIMIT)];
  let checked = null;
  for (const limit of order) {
    await sides.service.start(limit);
    await sides.baseline.start(limit);
    checked ??= await checkSameAnswers(topology, sides);
    if (limit === DEFAULT_LIMIT && settings.workloads.includes('write')) {
      const rounds = await alternate(`${topology} write`, 'req/s', sides, (side, round) => measureWrite(side, shared, round));
      results.push(summarize('write', `${topology} write`, 'req/s', rounds));
    }
    if (limits.includes(limit)) {
      const rounds = await alternate(`${topology} pipeline at ${limit}`, 'objects/s', sides, (side, round) =>
        measurePipeline(side, shared, limit, round),
      );
      results.push(summarize('pipeline', `${topology} pipeline at ${limit}`, 'objects/s', rounds, { limit }));
    }
    if (limit === DEFAULT_LIMIT && settings.workloads.includes('read')) {
      const ids = {};
      for (const name of ['service', 'baseline']) {
        ids[name] = await sides[name].rows.completedIds('%', 1000);
        if (!ids[name].length) {
          await submitMany(sides[name], `seed-${name}`, 300);
          while ((await sides[name].rows.settled(`seed-${name}`)).settled < 300) {
            await sleep(200);
          }
          ids[name] = await sides[name].rows.completedIds('%', 1000);
        }
      }
      const rounds = await alternate(`${topology} read`, 'req/s', sides, (side, round) => measureRead(side, shared, round, ids[side.name]));
      results.push(summarize('read', `${topology} read`, 'req/s', rounds));
    }
  }

  const headline = results.map((result) => ({
    name: result.name,
    measure:
      `${result.workload === 'write' ? 'POST /api/v1/process, 1 KB payload, workers running' : result.workload === 'read' ? 'GET /api/v1/progress/{id} while a pipeline runs' : `5-operation plan, 1 KB JSON, MAX_PARALLEL_WORKERS=${result.limit}`}; ` +
      `CPU ms per ${result.unit === 'req/s' ? 'request' : 'object'} of the side's processes with their S3 ${fixed(sideCpu(result.cpu.service), 2)} vs ${fixed(sideCpu(result.cpu.baseline), 2)}, ` +
      `PostgreSQL ${fixed(result.cpu.service.PostgreSQL, 2)} vs ${fixed(result.cpu.baseline.PostgreSQL, 2)}; ratio by CPU ${fixed(result.cpuRatio, 2)}`,
    unit: result.unit,
    service: result.service,
    baseline: result.baseline,
    ratio: result.ratio,
    target: `≥ ${result.target.toFixed(2)}`,
    met: result.ratio !== null && result.ratio >= result.target,
  }));
  const bytes = (side) => results.find((result) => result.workload === 'pipeline')?.rounds[0][side].bytesPerObject ?? {};
  const kinds = [...new Set([...Object.keys(bytes('service')), ...Object.keys(bytes('baseline'))])].sort();
  const details = [
    describeTopology(topology),
    '',
    METHOD,
    '',
    ...results.flatMap((result) => [`### ${result.name}`, '', roundTable(result), '']),
    'Bytes per object of each recorded artifact and file in S3 (first pipeline batch of each side):',
    '',
    '| artifact | service | baseline |',
    '|---|---|---|',
    ...kinds.map((kind) => `| ${kind} | ${bytes('service')[kind] ?? '—'} | ${bytes('baseline')[kind] ?? '—'} |`),
    '',
    machineTable(machine),
  ].join('\n');
  saveResult({
    scenario: topology,
    title:
      topology === 'quickstart' ? 'Workloads on the Quick start (npm start as shipped)' : 'Workloads on separate API and worker processes',
    date,
    headline,
    details,
    machine,
    settings,
    checked,
    results,
  });
  return results.some((result) => result.rounds.some((round) => round.service.failed || round.baseline.failed)) ? 1 : 0;
}

module.exports = { runWorkloads };
