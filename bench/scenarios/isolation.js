'use strict';
/*
 * Scenario "isolation": how promptly an APP_ROLE=all process (the Quick start topology: API and worker in one
 * process) answers GET /health/live while each input of issue 13 is being processed, against the same process
 * while it processes nothing.
 *
 *   PATH=$PWD/node_modules/.bin:$PATH node bench/scenarios/isolation.js      # after npm run build
 *
 * Settings: BENCH_ISOLATION_PROBE_MS (10: one probe every this many ms, one at a time), BENCH_ISOLATION_IDLE_S (5).
 *
 * For each input: the object is submitted, and /health/live is probed until the object settles; the outcome
 * (state, error) is recorded beside the latencies. The baseline is the same process, idle, probed for the same
 * while. Operations run in processes of their own, so the loop that answers should see only the job's own
 * I/O; before that change these inputs kept it busy for seconds (the findings of issue 13).
 */
const { runBenchmark } = require('../lib/cleanup');
const { prepareEnvironment, log } = require('../lib/environment');
const { cpuMs, sleep } = require('../lib/processes');
const { median, percentile, fixed, describeMachine, machineTable, saveResult } = require('../lib/report');

const PROBE_MS = Number(process.env.BENCH_ISOLATION_PROBE_MS ?? 10);
const IDLE_S = Number(process.env.BENCH_ISOLATION_IDLE_S ?? 5);
const TARGET_MS = 100;

function csv(rows) {
  const lines = ['id,name,score,active,joined'];
  for (let i = 0; i < rows; i++) {
    lines.push(`${i},customer-${i % 9973},${(i * 7919) % 1000}.${i % 10},${i % 3 === 0},2024-0${(i % 9) + 1}-1${i % 10}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The inputs of issue 13 that stalled or broke the process, and one large ordinary file. */
const INPUTS = [
  {
    name: '1,100-line NDJSON, transform',
    operations: ['transform'],
    file: { body: Array.from({ length: 1100 }, (_, i) => JSON.stringify({ a: i })).join('\n'), type: 'application/x-ndjson' },
  },
  {
    name: '20,000 records each with a new key, analyze',
    operations: ['analyze'],
    payload: Array.from({ length: 20000 }, (_, i) => ({ [`k${i}`]: 1 })),
  },
  { name: '80 KB word then "!", analyze', operations: ['analyze'], file: { body: `${'a'.repeat(80000)}!`, type: 'text/plain' } },
  {
    name: 'JSON nested 100,000 deep, transform',
    operations: ['transform'],
    file: { body: `${'['.repeat(100000)}${']'.repeat(100000)}`, type: 'application/json' },
  },
  {
    name: 'pattern ^(a+)+$ in a JSON Schema',
    operations: ['validate'],
    payload: { s: `${'a'.repeat(30)}!` },
    options: { validate: { json_schema: { properties: { s: { pattern: '^(a+)+$' } } } } },
  },
  {
    name: '{"$ref":"#"} as JSON Schema',
    operations: ['validate'],
    payload: { a: 1 },
    options: { validate: { json_schema: { $ref: '#' } } },
  },
  { name: '12 MB CSV (300,000 rows), export', operations: ['export'], file: { body: csv(300000), type: 'text/csv' } },
  {
    name: 'the same CSV over a 100 ms time budget',
    operations: ['analyze'],
    file: { body: csv(300000), type: 'text/csv' },
    options: { budget: { time_ms: 100 } },
  },
];

async function main() {
  const environment = await prepareEnvironment('isolation');
  const machine = await describeMachine(environment.db, environment.redis);
  const { proc, url } = await environment.startService('service', 'all');

  async function probeWhile(isRunning) {
    const latencies = [];
    while (isRunning()) {
      const started = performance.now();
      const response = await fetch(`${url}/health/live`);
      await response.arrayBuffer();
      latencies.push(performance.now() - started);
      await sleep(PROBE_MS);
    }
    return latencies;
  }

  async function submit(input, index) {
    const identifier = `isolation-${index}-${Date.now()}`;
    if (input.file) {
      const form = new FormData();
      form.append('identifier', identifier);
      form.append('operations', JSON.stringify(input.operations));
      if (input.options) {
        form.append('options', JSON.stringify(input.options));
      }
      form.append('file', new Blob([input.file.body], { type: input.file.type }), 'content');
      return fetch(`${url}/api/v1/process`, { method: 'POST', body: form });
    }
    const body = { identifier, operations: input.operations, payload: input.payload, options: input.options };
    return fetch(`${url}/api/v1/process`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  async function settle(id) {
    for (;;) {
      const progress = await (await fetch(`${url}/api/v1/progress/${id}`)).json();
      if (['completed', 'failed', 'cancelled'].includes(progress.state)) {
        return progress;
      }
      await sleep(50);
    }
  }

  const summarize = (latencies) => ({
    probes: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
  });

  const idleUntil = Date.now() + IDLE_S * 1000;
  const idle = summarize(await probeWhile(() => Date.now() < idleUntil));
  log(`idle: p50 ${fixed(idle.p50, 1)} ms, p99 ${fixed(idle.p99, 1)} ms, max ${fixed(idle.max, 1)} ms over ${idle.probes} probes`);

  const results = [];
  for (const [index, input] of INPUTS.entries()) {
    let running = true;
    const cpuBefore = cpuMs(proc.pid);
    const started = Date.now();
    const probing = probeWhile(() => running);
    const answer = await submit(input, index);
    const body = await answer.json();
    const outcome = answer.status === 202 ? await settle(body.id) : { state: `refused ${answer.status}`, error_message: body.message };
    running = false;
    const latencies = summarize(await probing);
    const result = {
      input: input.name,
      outcome: outcome.state,
      error: outcome.error_message ?? null,
      seconds: (Date.now() - started) / 1000,
      cpuMs: cpuMs(proc.pid) - cpuBefore,
      ...latencies,
    };
    log(
      `${input.name}: ${result.outcome}${result.error ? ` (${result.error})` : ''} in ${fixed(result.seconds, 1)} s; /health/live p99 ${fixed(result.p99, 1)} ms, max ${fixed(result.max, 1)} ms`,
    );
    results.push(result);
  }

  const worstMax = Math.max(...results.map((result) => result.max));
  const worstP99 = Math.max(...results.map((result) => result.p99));
  const details = [
    `One \`APP_ROLE=all\` process (API and worker, \`MAX_PARALLEL_WORKERS=3\`), probed with \`GET /health/live\` one request at a time, every ${PROBE_MS} ms,`,
    `from submission until the object settled. Baseline: the same process, idle, probed for ${IDLE_S} s. Target: no probe slower than ${TARGET_MS} ms.`,
    'CPU is the process and its operation processes.',
    '',
    '| input | outcome | seconds | probes | /health/live p50 ms | p99 ms | max ms | CPU ms |',
    '|---|---|---|---|---|---|---|---|',
    `| idle | — | ${IDLE_S} | ${idle.probes} | ${fixed(idle.p50, 1)} | ${fixed(idle.p99, 1)} | ${fixed(idle.max, 1)} | — |`,
    ...results.map(
      (r) =>
        `| ${r.input} | ${r.outcome}${r.error ? `: ${r.error.replace(/\|/g, '\\|')}` : ''} | ${fixed(r.seconds, 1)} | ${r.probes} | ${fixed(r.p50, 1)} | ${fixed(r.p99, 1)} | ${fixed(r.max, 1)} | ${fixed(r.cpuMs)} |`,
    ),
    '',
    machineTable(machine),
  ].join('\n');
  saveResult({
    scenario: 'isolation',
    title: 'Isolation',
    headline: [
      {
        name: 'isolation',
        measure: 'slowest /health/live while issue 13 inputs run, ms (service) vs idle (baseline)',
        unit: 'ms',
        service: worstMax,
        baseline: idle.max,
        ratio: worstP99 / idle.p99,
        target: `max ≤ ${TARGET_MS} ms`,
        met: worstMax <= TARGET_MS,
      },
    ],
    details,
    settings: { probeMs: PROBE_MS, idleSeconds: IDLE_S },
    rounds: [{ idle, results, medianP99: median(results.map((r) => r.p99)) }],
    machine,
  });
}

runBenchmark(main);
