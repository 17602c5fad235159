'use strict';
/*
 * Scenario "large": a big CSV (BENCH_LARGE_MB, default 500) through the whole plan (validate,
 * transform, enrich, analyze, export) in a worker process of its own (MAX_PARALLEL_WORKERS=1), vs
 * bench/baselines/large-csv.js doing a bare streaming S3 GetObject → csv-parse → NDJSON → S3 Upload
 * of the same file on the same s3rver.
 *
 * Measures the worker's peak memory (its process and its operation process: their anonymous memory plus
 * each mapped file once; target ≤ 300 MB) and MB/s of processing (queued →
 * completed, the upload excluded) vs the baseline's MB/s (target ratio ≥ 0.5). The worker is started
 * afresh for every round, so each round has its own VmHWM. Both outputs must hold exactly the
 * generated rows, and must be the same bytes.
 *
 *   PATH=$PWD/node_modules/.bin:$PATH node bench/scenarios/large.js     # after npm run build
 *
 * BENCH_LARGE_MB (500), BENCH_LARGE_ROUNDS (1: a 500 MB round takes minutes), BENCH_SAMPLE_MS (100),
 * BENCH_TIMEOUT_MIN (30), BENCH_WORKER_NODE_OPTIONS, BENCH_TMPDIR (needs about 4 × the CSV free).
 */
const { createHash } = require('node:crypto');
const { once } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { DeleteObjectCommand, GetObjectCommand } = require('@aws-sdk/client-s3');
const { Upload } = require('@aws-sdk/lib-storage');
const { runBenchmark } = require('../lib/cleanup');
const { prepareEnvironment, distModule, log } = require('../lib/environment');
const { spawnProcess, memoryOf, anonymousMemoryOf, mappedFilesOf, sleep, cpuMs } = require('../lib/processes');
const { median, fixed, describeMachine, machineTable, saveResult } = require('../lib/report');

const MIB = 1024 * 1024;
const SIZE_MB = Number(process.env.BENCH_LARGE_MB ?? 500);
const ROUNDS = Number(process.env.BENCH_LARGE_ROUNDS ?? 1);
const SAMPLE_MS = Number(process.env.BENCH_SAMPLE_MS ?? 100);
// Mapped files change little once the worker has started, and reading every smaps costs the harness milliseconds.
const FILES_SAMPLE_EVERY = 10;
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MIN ?? 30) * 60_000;
const RSS_TARGET_MB = 300;
const RATIO_TARGET = 0.5;
const BASELINE = path.join(__dirname, '..', 'baselines', 'large-csv.js');

// What was changed in the product for this scenario, with the figures before and after (kept here: the run cannot measure the old code).
const CHANGES = `**Changes made** (issue 6). Old code (HEAD before the changes) and new code, each run by this script at 100 MB, one round,
back to back on the same 2-core machine:

| | before | after |
|---|---|---|
| service MiB/s (queued → completed) | 2.14 | 8.18 |
| baseline MiB/s (same run) | 10.99 | 13.20 |
| ratio | 0.19 | 0.62 |
| worker CPU for the plan / baseline CPU | 36.0 s / 6.7 s | 11.5 s / 6.3 s |
| worker idle / peak RSS (VmHWM) | 197 / 390 MiB | 168 / 270 MiB |
| validate / transform / enrich / analyze / export | 11.2 / 14.9 / 4.0 / 7.2 / 9.4 s | 1.3 / 10.7 / 0.0 / 0.0 / 0.1 s |

Where the time went (--cpu-prof of the worker, 20 MB, before): csv-parse 7.5 % of samples, garbage collection 6.7 %, async generators and
a stream chunk per record (records.js, runMicrotasks, Readable.from) ~12 %, per-record \`info\` objects and type inference in csvRecords 3.7 %,
JSON.parse 4.4 % (three NDJSON passes), field statistics 4.9 %; the content was parsed five times: CSV twice (validate, transform), NDJSON three times.
Fixes, in src/operations and src/storage: records go through the operations in batches (one per chunk read, via csv-parse's \`readable\`/\`read()\`
and a \\n splitter for NDJSON) instead of a promise per record, and NDJSON is written in 64 KiB chunks instead of a chunk (and a Buffer in the
uploader) per record; reading CSV for transform no longer asks csv-parse for an info object per record; \`inferScalar\` tests characters before
regular expressions; validate proves common-case CSV with a byte scanner (\`CsvScanner\`; a fuzz test checks it never accepts what csv-parse
refuses) and falls back to csv-parse for anything else and for the error message; transform infers the schema of the records it writes, and,
when the plan has analyze, gathers the field statistics too: enrich and analyze use them instead of reading the records again (they still read
them for an object transformed without them); export of the default NDJSON format is a server-side copy (CopyObject) of transform's records
file, which already is that NDJSON, instead of parsing and writing it again; field statistics count numbers by value, not by String().
Memory: V8 sized the young generation from the host's 24 GB (up to 128 MiB of new space), most of the idle and peak RSS; the image now sets
\`NODE_OPTIONS=--max-semi-space-size=8\` (the worker Deployment in deploy/; this script runs the worker with it; a few per cent more CPU in scavenges), and streamed
uploads keep 2 parts of 5 MiB in flight instead of lib-storage's 4 (the baseline uses the same). MALLOC_ARENA_MAX=2 made no difference.`;

// ---------------------------------------------------------------------------------------------
// Input: a CSV written to disk in chunks, never held whole in memory.

const FIRST = [
  'Ada',
  'Linus',
  'Grace',
  'Alan',
  'Barbara',
  'Edsger',
  'Margaret',
  'Ken',
  'Radia',
  'Donald',
  'Frances',
  'Niklaus',
  'Hedy',
  'Tim',
  'Sophie',
  'Dennis',
];
const LAST = [
  'Lovelace',
  'Torvalds',
  'Hopper',
  'Turing',
  'Liskov',
  'Dijkstra',
  'Hamilton',
  'Thompson',
  'Perlman',
  'Knuth',
  'Allen',
  'Wirth',
  'Lamarr',
  'Berners-Lee',
  'Wilson',
  'Ritchie',
];
const CITIES = [
  'Oslo',
  'Rome',
  'Lisbon',
  'Tallinn',
  'Kraków',
  'São Paulo',
  'Zürich',
  'Reykjavík',
  'Nairobi',
  'Osaka',
  'Montréal',
  'Auckland',
  'Lima',
  'Seoul',
  'Cape Town',
  '"Washington, D.C."',
];

/** mulberry32: the same size gives the same file. */
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
    if (!out.write(chunk)) {
      await once(out, 'drain');
    }
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
// S3 helpers of the harness (its work is outside every timed span).

async function putFile(client, bucket, key, file, partSize, queueSize) {
  await new Upload({ client, params: { Bucket: bucket, Key: key, Body: fs.createReadStream(file) }, partSize, queueSize }).done();
}

/** Non-empty lines and sha256 of an S3 object, streamed. */
async function digestOf(client, bucket, key) {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  let lines = 0;
  let bytes = 0;
  const reader = readline.createInterface({ input: response.Body, crlfDelay: Infinity });
  for await (const line of reader) {
    hash.update(`${line}\n`);
    bytes += Buffer.byteLength(line) + 1;
    if (line.length > 0) {
      lines++;
    }
  }
  return { lines, bytes, sha256: hash.digest('hex') };
}

async function readJson(client, bucket, key) {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await response.Body.transformToString());
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const environment = await prepareEnvironment('large');
  const { env, config, work, db, redis, startService } = environment;
  const machine = await describeMachine(db, redis);
  const { createS3Client } = distModule('storage/s3-client.factory');
  const storage = distModule('storage/storage.service');
  const client = createS3Client(config.s3);
  const bucket = config.s3.bucket;
  // The service's own part size and queue size, when it names them; else lib-storage's defaults, which it then uses too.
  const partSize = storage.UPLOAD_PART_SIZE ?? 5 * MIB;
  const queueSize = storage.UPLOAD_QUEUE_SIZE ?? 4;

  const csvFile = path.join(work, 'large.csv');
  log(`generating a ${SIZE_MB} MB CSV`);
  const input = await generateCsv(csvFile, Math.round(SIZE_MB * MIB));
  const inputMib = input.bytes / MIB;
  log(`${fixed(inputMib, 1)} MiB, ${input.rows} rows`);

  // startService adds the NODE_OPTIONS of the role's Deployment (deploy/) in front of these.
  const serviceEnv = { LOG_LEVEL: 'warn', MAX_PARALLEL_WORKERS: '1', UPLOAD_LIMIT_BYTES: String(input.bytes + 64 * MIB) };
  const api = await startService('large-api', 'api', serviceEnv);
  // The baseline's source: the same bytes, in the same s3rver.
  const sourceKey = 'bench-large/source.csv';
  await putFile(client, bucket, sourceKey, csvFile, partSize, queueSize);

  async function runService(round) {
    const workerEnv = {
      ...serviceEnv,
      NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS ?? '',
      ...JSON.parse(process.env.BENCH_WORKER_ENV ?? '{}'),
    };
    const worker = await startService(`large-worker-${round}`, 'worker', workerEnv);
    await sleep(1000);
    const idle = memoryOf(worker.proc.pid);
    let mappedFiles = mappedFilesOf(worker.proc.pid);
    const idlePod = anonymousMemoryOf(worker.proc.pid) + mappedFiles;
    const samples = [];
    const sampler = setInterval(() => {
      const memory = memoryOf(worker.proc.pid);
      const anonymous = anonymousMemoryOf(worker.proc.pid);
      if (samples.length % FILES_SAMPLE_EVERY === 0) {
        mappedFiles = Math.max(mappedFiles, mappedFilesOf(worker.proc.pid));
      }
      if (memory && anonymous !== null) {
        samples.push({ t: Date.now(), rss: memory.rss, pod: anonymous + mappedFiles });
      }
    }, SAMPLE_MS);
    const heapSamples = [];
    let heapSampling = true;
    const heapSampler = (async () => {
      while (heapSampling) {
        const t = Date.now();
        try {
          const text = await (await fetch(`${worker.url}/metrics`)).text();
          const value = (name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
          heapSamples.push({ t, heap: value('nodejs_heap_size_used_bytes'), external: value('nodejs_external_memory_bytes') });
        } catch {
          // the probe port is busy or gone: skip a sample
        }
        await sleep(Math.max(0, 1000 - (Date.now() - t)));
      }
    })();
    try {
      const identifier = `large-${round}-${Date.now().toString(36)}`;
      const form = new FormData();
      form.append('identifier', identifier);
      form.append('operations', JSON.stringify(['export']));
      form.append('file', await fs.openAsBlob(csvFile, { type: 'text/csv' }), 'large.csv');
      const uploadStart = Date.now();
      const cpuBefore = cpuMs(worker.proc.pid);
      const response = await fetch(`${api.url}/api/v1/process`, { method: 'POST', body: form });
      const submitted = await response.json();
      const queuedAt = Date.now();
      if (response.status !== 202) {
        throw new Error(`upload answered ${response.status}: ${JSON.stringify(submitted)}`);
      }
      let progress;
      const deadline = Date.now() + TIMEOUT_MS;
      for (;;) {
        progress = await (await fetch(`${api.url}/api/v1/progress/${submitted.id}`)).json();
        if (['completed', 'failed', 'cancelled'].includes(progress.state)) {
          break;
        }
        if (!worker.proc.running()) {
          throw new Error(`the worker exited:\n${worker.proc.tail()}`);
        }
        if (Date.now() > deadline) {
          throw new Error(`not settled within ${TIMEOUT_MS / 60_000} min: ${JSON.stringify(progress)}`);
        }
        await sleep(200);
      }
      clearInterval(sampler);
      heapSampling = false;
      await heapSampler;
      const peak = memoryOf(worker.proc.pid);
      const workerCpuMs = cpuMs(worker.proc.pid) - cpuBefore;
      if (progress.state !== 'completed') {
        throw new Error(`object ${progress.state}: ${progress.error ?? ''}\n${worker.proc.tail()}`);
      }
      const object = await (await fetch(`${api.url}/api/v1/objects/${encodeURIComponent(identifier)}`)).json();
      const processingMs = Date.parse(object.finished_at) - queuedAt;
      const maxOf = (list, from, to, field) => {
        const values = list.filter((s) => s.t >= from && s.t <= to).map((s) => s[field]);
        return values.length ? Math.max(...values) / MIB : null;
      };
      const operations = object.plan.map((name) => {
        const status = progress.operations_status[name];
        const from = Date.parse(status.started_at);
        const to = Date.parse(status.finished_at);
        return {
          operation: name,
          ms: status.duration_ms,
          rss_mib: maxOf(samples, from - SAMPLE_MS, to + SAMPLE_MS, 'rss'),
          heap_mib: maxOf(heapSamples, from, to, 'heap'),
          external_mib: maxOf(heapSamples, from, to, 'external'),
        };
      });
      const exported = await readJson(client, bucket, `${identifier}/export_result.json`);
      return {
        side: 'service',
        identifier,
        upload_ms: queuedAt - uploadStart,
        processing_ms: processingMs,
        started_to_finished_ms: Date.parse(object.finished_at) - Date.parse(object.started_at),
        mib_per_s: inputMib / (processingMs / 1000),
        cpu_ms: workerCpuMs,
        idle_rss_mib: idle.rss / MIB,
        peak_rss_mib: peak.hwm / MIB,
        idle_pod_mib: idlePod / MIB,
        peak_pod_mib: Math.max(idlePod, ...samples.map((sample) => sample.pod)) / MIB,
        operations,
        outputKey: new URL(exported.file).pathname.slice(1),
      };
    } finally {
      clearInterval(sampler);
      heapSampling = false;
      await heapSampler;
      await worker.proc.stop();
    }
  }

  async function runBaseline(round) {
    const resultFile = path.join(work, `baseline-${round}.json`);
    const targetKey = `bench-large/baseline-${round}.ndjson`;
    const proc = spawnProcess(
      `large-baseline-${round}`,
      BASELINE,
      {
        ...env,
        BASELINE_SOURCE_KEY: sourceKey,
        BASELINE_TARGET_KEY: targetKey,
        BASELINE_DELIMITER: ',',
        BASELINE_PART_SIZE: String(partSize),
        BASELINE_QUEUE_SIZE: String(queueSize),
        BASELINE_RESULT: resultFile,
      },
      work,
    );
    const code = await proc.exited;
    if (code !== 0) {
      throw new Error(`the baseline exited with ${code}:\n${proc.tail()}`);
    }
    const result = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
    return {
      side: 'baseline',
      ms: result.ms,
      cpu_ms: result.cpu_ms,
      mib_per_s: inputMib / (result.ms / 1000),
      peak_rss_mib: result.peak_rss_bytes / MIB,
      records: result.records,
      outputKey: targetKey,
    };
  }

  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? ['service', 'baseline'] : ['baseline', 'service'];
    const figures = {};
    for (const side of order) {
      log(`round ${round}: ${side}`);
      figures[side] = side === 'service' ? await runService(round) : await runBaseline(round);
      log(
        `round ${round}: ${side} ${fixed(figures[side].mib_per_s, 2)} MiB/s, peak RSS ${fixed(figures[side].peak_rss_mib, 0)} MiB` +
          (side === 'service' ? `, peak memory ${fixed(figures[side].peak_pod_mib, 0)} MiB` : ''),
      );
    }
    const [serviceOut, baselineOut] = [
      await digestOf(client, bucket, figures.service.outputKey),
      await digestOf(client, bucket, figures.baseline.outputKey),
    ];
    const verified = serviceOut.lines === input.rows && baselineOut.lines === input.rows && serviceOut.sha256 === baselineOut.sha256;
    if (!verified) {
      throw new Error(
        `outputs differ: generated ${input.rows} rows; service ${serviceOut.lines} lines (${serviceOut.sha256}), baseline ${baselineOut.lines} lines (${baselineOut.sha256})`,
      );
    }
    rounds.push({
      round,
      order,
      service: figures.service,
      baseline: figures.baseline,
      ratio: figures.service.mib_per_s / figures.baseline.mib_per_s,
      output: serviceOut,
    });
    // Each round's output is as large as the input: s3rver keeps it on disk until removed.
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: figures.baseline.outputKey }));
  }

  const serviceMibs = median(rounds.map((r) => r.service.mib_per_s));
  const baselineMibs = median(rounds.map((r) => r.baseline.mib_per_s));
  const ratio = median(rounds.map((r) => r.ratio));
  const peakRss = Math.max(...rounds.map((r) => r.service.peak_rss_mib));
  const peakMemory = Math.max(...rounds.map((r) => r.service.peak_pod_mib));
  const baselineRss = Math.max(...rounds.map((r) => r.baseline.peak_rss_mib));
  const memoryMet = peakMemory <= RSS_TARGET_MB;

  const roundTable = [
    '| round | order | service processing | service MiB/s | worker CPU | worker idle / peak memory | worker idle RSS / summed peak RSS | baseline | baseline MiB/s | baseline CPU | baseline peak RSS | ratio |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rounds.map(
      (r) =>
        `| ${r.round} | ${r.order.join(' → ')} | ${fixed(r.service.processing_ms / 1000, 1)} s | ${fixed(r.service.mib_per_s, 2)} | ${fixed(r.service.cpu_ms / 1000, 1)} s | ${fixed(r.service.idle_pod_mib, 0)} / ${fixed(r.service.peak_pod_mib, 0)} MiB | ${fixed(r.service.idle_rss_mib, 0)} / ${fixed(r.service.peak_rss_mib, 0)} MiB | ${fixed(r.baseline.ms / 1000, 1)} s | ${fixed(r.baseline.mib_per_s, 2)} | ${fixed(r.baseline.cpu_ms / 1000, 1)} s | ${fixed(r.baseline.peak_rss_mib, 0)} MiB | ${fixed(r.ratio, 2)} |`,
    ),
  ].join('\n');
  const cpuRatio = median(rounds.map((r) => r.baseline.cpu_ms / r.service.cpu_ms));
  // The API streamed every upload to S3: its peak tells whether that path holds the file in memory.
  const apiPeakRss = memoryOf(api.proc.pid).hwm / MIB;
  const uploadMs = median(rounds.map((r) => r.service.upload_ms));
  const last = rounds[rounds.length - 1].service;
  const operationTable = [
    '| operation | s | MiB/s of the input | worker RSS ≤ | heap used ≤ | external ≤ |',
    '|---|---|---|---|---|---|',
    ...last.operations.map(
      (o) =>
        `| ${o.operation} | ${fixed(o.ms / 1000, 1)} | ${fixed(inputMib / (o.ms / 1000), 1)} | ${fixed(o.rss_mib, 0)} MiB | ${fixed(o.heap_mib, 0)} MiB | ${fixed(o.external_mib, 0)} MiB |`,
    ),
  ].join('\n');

  const details = [
    `A ${fixed(inputMib, 1)} MiB CSV (${input.rows} rows; columns id, name, city, amount, flag, created; non-ASCII cities, a quoted comma, 2 % empty amounts) ` +
      'is uploaded as multipart/form-data with `operations: ["export"]` (plan validate, transform, enrich, analyze, export) to the built service: ' +
      'an API process and a separate worker process (`APP_ROLE=worker`, `MAX_PARALLEL_WORKERS=1`, `LOG_LEVEL=warn`), started afresh for each round. ' +
      "**Service MiB/s** is the input size over processing time, from the 202 of the upload (queued) to the object's `finished_at`: the upload itself is excluded. " +
      '**Worker peak memory**, the target being ≤ 300 MB, is the memory of the worker process and the operation process it runs the plan in, ' +
      `sampled every ${SAMPLE_MS} ms: the anonymous memory of both (RssAnon + RssShmem) plus every mapped file once (both map the same node binary ` +
      'and libraries); the page cache of the files they read and write and kernel buffers are not in it, and a spike shorter than a sample can be ' +
      'missed. Since operations run in processes of their own, the sum of the two VmHWM counts the shared files twice and adds peaks of different ' +
      "moments; it is shown beside it as an upper bound. The baseline's figure is its one process's VmHWM.",
    '',
    'The baseline (bench/baselines/large-csv.js, its own process) reads the same file from the same s3rver with GetObject, parses it with csv-parse ' +
      "(the delimiter, `bom` and `skip_empty_lines` the service uses), types the cells with the service's rules, writes NDJSON in 64 KiB chunks and uploads it with " +
      `@aws-sdk/lib-storage (part size ${partSize / MIB} MiB, queue size ${queueSize}, as the service). Its time runs from the GetObject to the end of the upload. ` +
      "It does one pass. The service's plan reads the CSV twice: validate hashes it and checks it byte by byte (CsvScanner), transform parses it with csv-parse, writes the NDJSON " +
      "and gathers the schema and statistics that enrich and analyze report; export copies transform's NDJSON inside S3.",
    '',
    `Verification: the service's exported records.ndjson and the baseline's NDJSON both have exactly the ${input.rows} generated rows and the same sha256 (${rounds[0].output.sha256.slice(0, 16)}…).`,
    '',
    `Rounds: ${ROUNDS} (BENCH_LARGE_ROUNDS; one round at 500 MB takes minutes on this machine), alternating which side runs first.`,
    '',
    roundTable,
    '',
    `Medians: service ${fixed(serviceMibs, 2)} MiB/s, baseline ${fixed(baselineMibs, 2)} MiB/s, ratio ${fixed(ratio, 2)}; worker peak memory ${fixed(peakMemory, 0)} MiB, summed VmHWM ${fixed(peakRss, 0)} MiB (baseline process ${fixed(baselineRss, 0)} MiB). ` +
      `CPU time, which other load on the machine disturbs less than wall time: baseline / worker ${fixed(cpuRatio, 2)} (the worker's CPU time of the round includes its share of progress updates and S3 calls; the s3rver runs in the harness process for both sides).`,
    '',
    `Upload (not part of the measure): ${fixed(uploadMs / 1000, 1)} s, ${fixed(inputMib / (uploadMs / 1000), 1)} MiB/s; API process peak RSS ${fixed(apiPeakRss, 0)} MiB.`,
    '',
    CHANGES,
    '',
    `Per operation (last round; RSS sampled every ${SAMPLE_MS} ms, heap and external memory from /metrics every second):`,
    '',
    operationTable,
    '',
    machineTable(machine),
  ].join('\n');

  saveResult({
    scenario: 'large',
    title: 'Large CSV',
    headline: [
      {
        name: 'large',
        measure: `worker peak memory (worker + operation process, mapped files once; summed VmHWM ${fixed(peakRss, 0)} MiB)`,
        unit: 'MiB',
        service: peakMemory,
        baseline: baselineRss,
        ratio: null,
        target: `≤ ${RSS_TARGET_MB} MiB`,
        met: memoryMet,
      },
      {
        name: 'large',
        measure: 'MiB/s, queued → completed vs bare csv-parse → NDJSON → S3',
        unit: 'MiB/s',
        service: serviceMibs,
        baseline: baselineMibs,
        ratio,
        target: `≥ ${RATIO_TARGET.toFixed(2)}`,
        met: ratio >= RATIO_TARGET,
      },
    ],
    details,
    input: { bytes: input.bytes, rows: input.rows },
    rounds,
    cpu_ratio: cpuRatio,
    api_peak_rss_mib: apiPeakRss,
    machine,
  });
  client.destroy();
}

runBenchmark(main);
