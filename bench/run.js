'use strict';
/*
 * `npm run bench`: every scenario of issues 6 and 16, one after the other, each in a process of its own
 * (bench/scenarios/<name>.js, with its own database, Redis prefix and s3rver), then the summary
 * table of docs/BENCHMARKS.md from the headlines they saved (a scenario not chosen this time keeps the
 * figures of its latest run in bench/results/, dated). Never part of `npm test`.
 *
 *   npm run bench                                   # builds first, then every scenario
 *   BENCH_SCENARIOS=quickstart,growth node bench/run.js   # after `npm run build`
 *
 * Each scenario script also runs alone and reads its own BENCH_* settings (see bench/README.md).
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { Client } = require('pg');
const { Redis } = require('ioredis');
const { requireBuild, log } = require('./lib/environment');
const { describeMachine, machineTable, headlineTable, writeDocSection } = require('./lib/report');

const ALL = ['quickstart', 'split', 'live', 'large', 'thumbnails', 'growth', 'isolation'];
const chosen = (process.env.BENCH_SCENARIOS ?? ALL.join(','))
  .split(',')
  .map((name) => name.trim())
  .filter(Boolean);
for (const name of chosen) {
  if (!ALL.includes(name)) {
    console.error(`Unknown scenario '${name}' in BENCH_SCENARIOS; known: ${ALL.join(', ')}`);
    process.exit(2);
  }
}
requireBuild();

function runScenario(name) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'scenarios', `${name}.js`)], { stdio: ['ignore', 'inherit', 'inherit'] });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? signal);
    });
  });
}

/** The newest result file a scenario wrote since `since`, parsed; null when it wrote none. */
function latestResult(name, since) {
  const dir = path.join(__dirname, 'results');
  if (!fs.existsSync(dir)) {
    return null;
  }
  const files = fs
    .readdirSync(dir)
    .filter((file) => file.startsWith(`${name}-`) && file.endsWith('.json'))
    .map((file) => path.join(dir, file))
    .filter((file) => fs.statSync(file).mtimeMs >= since)
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return files.length ? JSON.parse(fs.readFileSync(files[0], 'utf8')) : null;
}

async function machine() {
  const db = new Client({ connectionString: process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' });
  const redis = new Redis(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  await db.connect();
  await redis.connect();
  try {
    return await describeMachine(db, redis);
  } finally {
    await db.end();
    redis.disconnect();
  }
}

async function main() {
  const startedAt = new Date();
  const described = await machine();
  const outcomes = [];
  for (const name of chosen) {
    log(`scenario ${name} …`);
    const since = Date.now();
    const code = await runScenario(name);
    const result = latestResult(name, since);
    outcomes.push({ name, code, result });
    log(`scenario ${name} ended with ${code}${result ? `, results in ${result.file}` : ', no results'}`);
  }
  // Scenarios not run this time keep the figures of their latest run (its date is shown).
  const skipped = ALL.filter((name) => !chosen.includes(name)).map((name) => ({
    name,
    code: 0,
    result: latestResult(name, 0),
    earlier: true,
  }));
  const byName = new Map([...outcomes, ...skipped].map((outcome) => [outcome.name, outcome]));
  const headline = ALL.filter((name) => byName.has(name)).flatMap((name) => {
    const { code, result, earlier } = byName.get(name);
    if (!result) {
      return [
        {
          name,
          measure: earlier ? 'not run yet' : 'did not finish (see its output)',
          service: null,
          baseline: null,
          ratio: null,
          target: '—',
          met: false,
        },
      ];
    }
    const note = code !== 0 ? ` (run exited ${code})` : earlier ? ` (run of ${result.date})` : '';
    return result.headline.map((row) => ({ ...row, name: `${row.name}${note}` }));
  });
  const finished = new Date();
  const minutes = Math.round((finished - startedAt) / 60_000);
  writeDocSection(
    'summary',
    'Summary',
    [
      `Run of ${startedAt.toISOString()} (\`npm run bench\`, ${chosen.join(', ')}; ${minutes} min). Details of each scenario are in its section below; ratios are service ÷ baseline measured side by side in the same run (for latencies the target is a ceiling).`,
      '',
      machineTable(described),
      '',
      headlineTable(headline),
    ].join('\n'),
  );
  log(`summary written to docs/BENCHMARKS.md (${minutes} min)`);
  return outcomes.every(({ code, result }) => code === 0 && result) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`[bench] failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
