'use strict';
/*
 * Results of a benchmark: a JSON file in bench/results/ and its section of docs/BENCHMARKS.md.
 *
 * Every scenario script ends with saveResult({ scenario, title, headline, details, ...raw }):
 *   headline: rows of the summary table, each
 *     { name, measure, unit, service, baseline, ratio, target: '≥ 0.80' (text), met: boolean }
 *   details:  Markdown of the scenario's own section (method, rounds, figures).
 * bench/run.js runs the scenarios one after the other and writes the summary table from their headlines.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const DOC = path.join(ROOT, 'docs', 'BENCHMARKS.md');

const median = (values) => {
  const sorted = values.filter((value) => value !== null && value !== undefined && !Number.isNaN(value)).sort((a, b) => a - b);
  if (!sorted.length) {
    return null;
  }
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** The p-th percentile (0–100) by nearest rank. */
const percentile = (values, p) => {
  if (!values.length) {
    return null;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};

const fixed = (value, digits = 0) => (value === null || value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits));

function packageVersion(name) {
  try {
    return require(path.join(ROOT, 'node_modules', name, 'package.json')).version;
  } catch {
    return null;
  }
}

async function describeMachine(db, redis) {
  const cpus = os.cpus();
  const info = await redis.info('server');
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
      [
        '@nestjs/core',
        '@nestjs/platform-fastify',
        '@mikro-orm/postgresql',
        'fastify',
        'pg',
        'bullmq',
        'ioredis',
        'sharp',
        'csv-parse',
        'autocannon',
      ].map((name) => [name, packageVersion(name)]),
    ),
  };
}

function machineTable(machine) {
  return [
    '| machine | |',
    '|---|---|',
    `| CPU | ${machine.cpu} × ${machine.cores} cores, ${machine.memoryGiB} GiB |`,
    `| OS | ${machine.os} |`,
    `| load average at start (1, 5, 15 min) | ${machine.loadAverageAtStart.join(', ')} |`,
    `| Node / PostgreSQL / Redis | ${machine.node} / ${machine.postgres} / ${machine.redis} |`,
    `| packages | ${Object.entries(machine.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')} |`,
  ].join('\n');
}

/** A ratio to two decimals, or three where two would round it onto its target and hide which side of it it is. */
function ratioText(ratio, target) {
  if (ratio === null || ratio === undefined) {
    return '—';
  }
  const limit = Number(/\d+(?:\.\d+)?/.exec(String(target))?.[0]);
  const short = fixed(ratio, 2);
  return Number(short) === limit && ratio !== limit ? fixed(ratio, 3) : short;
}

function headlineRow(row) {
  const value = (v) => (typeof v === 'number' ? `${fixed(v, Math.abs(v) < 10 ? 2 : 0)}${row.unit ? ` ${row.unit}` : ''}` : (v ?? '—'));
  return `| ${row.name} | ${row.measure} | ${value(row.service)} | ${value(row.baseline)} | ${ratioText(row.ratio, row.target)} | ${row.target} | ${row.met ? 'met' : '**missed**'} |`;
}

function headlineTable(rows) {
  return ['| scenario | measure | service | baseline | ratio | target | |', '|---|---|---|---|---|---|---|', ...rows.map(headlineRow)].join(
    '\n',
  );
}

/** Replaces the section between `<!-- bench:<key>:start -->` and its end marker, appending it under `heading` when missing. */
function writeDocSection(key, heading, body) {
  const start = `<!-- bench:${key}:start -->`;
  const end = `<!-- bench:${key}:end -->`;
  const block = `${start}\n${body}\n${end}`;
  fs.mkdirSync(path.dirname(DOC), { recursive: true });
  let text = fs.existsSync(DOC)
    ? fs.readFileSync(DOC, 'utf8')
    : '# Benchmarks\n\nWritten by `npm run bench` (bench/run.js); see bench/README.md. Raw figures are in bench/results/ (not committed).\n';
  if (text.includes(start) && text.includes(end)) {
    text = text.slice(0, text.indexOf(start)) + block + text.slice(text.indexOf(end) + end.length);
  } else {
    text = `${text.trimEnd()}\n\n## ${heading}\n\n${block}\n`;
  }
  fs.writeFileSync(DOC, text);
}

/** Writes bench/results/<scenario>-<timestamp>.json and the scenario's section of docs/BENCHMARKS.md; returns the file. */
function saveResult(result) {
  const date = result.date ?? new Date().toISOString();
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${result.scenario}-${date.replace(/[:.]/g, '-')}.json`);
  const full = { ...result, date, file: path.relative(ROOT, file) };
  fs.writeFileSync(file, `${JSON.stringify(full, null, 2)}\n`);
  const body = [`Run of ${date} (${full.file}).`, '', headlineTable(result.headline), '', result.details].join('\n');
  writeDocSection(result.scenario, result.title, body);
  console.log(`[bench] wrote ${full.file} and the ${result.scenario} section of ${path.relative(ROOT, DOC)}`);
  for (const row of result.headline) {
    console.log(
      `[bench] ${row.name}: service ${fixed(row.service, 2)}, baseline ${fixed(row.baseline, 2)}, ratio ${ratioText(row.ratio, row.target)} (target ${row.target}) ${row.met ? 'met' : 'MISSED'}`,
    );
  }
  return file;
}

module.exports = {
  RESULTS,
  DOC,
  median,
  percentile,
  fixed,
  ratioText,
  describeMachine,
  machineTable,
  headlineTable,
  writeDocSection,
  saveResult,
};
