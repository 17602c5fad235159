import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Check } from './checks';

const REPORT = join(__dirname, '..', '..', '..', 'docs', 'RELIABILITY.md');
/** The order of the sections, whichever scenario ran last. */
export const SCENARIOS = ['worker-kill-storm', 'api-kill-burst', 'redis-data-loss', 'postgres-outage', 's3-outage', 'cancel-race'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  injected: string;
  figures: Record<string, string>;
  checks: Check[];
}

const HEADER = `# Reliability

Figures written by \`npm run test:chaos\` (test/chaos/): the built service as one API and several
worker processes against a private Redis, a temporary PostgreSQL cluster and an s3rver, while
processes are killed and dependencies go away. Each scenario rewrites its own section when it runs,
so a section shows the last run of that scenario (its date and commit are given).

Bounds the service states, which these runs measure:
- **Stuck objects.** A queued or processing object whose job is missing or dead is recovered by the
  reconciler at its first run after the object has been unchanged for max(\`RECONCILE_INTERVAL_MS\`, 5 s),
  once its sweep reaches it: each run reads 200 objects per state, so with U such objects per state that is
  within ceil(U / 200) runs (defaults: 5 s + 5 s × ceil(U / 200)), plus the time to process it.
- **Global limit.** Set again one Redis round trip after a worker's connection to Redis is back, and checked
  every \`GLOBAL_LIMIT_CHECK_INTERVAL_MS\` (5 s). Until then each worker process may run up to
  \`MAX_PARALLEL_WORKERS\` jobs; jobs that were running when Redis lost its data are not counted as active
  until they finish, so during recovery at most 2 × \`MAX_PARALLEL_WORKERS\` jobs run at once.
- **Process errors.** An unhandled rejection is logged with its stack and the process goes on; an uncaught
  exception is logged and exits 1 (src/common/process-guard.ts says why).
`;

/** Replaces (or adds) the scenario's section of docs/RELIABILITY.md. */
export function recordResult(result: ScenarioResult, commit: string): void {
  const sections = readSections();
  sections.set(result.name, render(result, commit));
  const body = SCENARIOS.filter((name) => sections.has(name))
    .map((name) => sections.get(name))
    .join('\n');
  writeFileSync(REPORT, `${HEADER}\n${body}`);
}

function readSections(): Map<string, string> {
  const sections = new Map<string, string>();
  if (!existsSync(REPORT)) {
    return sections;
  }
  for (const match of readFileSync(REPORT, 'utf8').matchAll(/<!-- scenario:([\w-]+) -->[\s\S]*?<!-- \/scenario -->\n/g)) {
    sections.set(match[1]!, match[0]);
  }
  return sections;
}

function render(result: ScenarioResult, commit: string): string {
  const verdict = result.checks.every((check) => check.held) ? 'held' : 'FAILED';
  const figures = Object.entries(result.figures).map(([name, value]) => `| ${cell(name)} | ${cell(value)} |`);
  const checks = result.checks.map((check) => `| ${check.held ? 'held' : '**failed**'} | ${cell(check.name)} | ${cell(check.detail)} |`);
  return [
    `<!-- scenario:${result.name} -->`,
    `## ${result.title}: ${verdict}`,
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${commit}.`,
    '',
    `**Injected:** ${result.injected}`,
    '',
    '| figure | value |',
    '|---|---|',
    ...figures,
    '',
    '| verdict | check | figures |',
    '|---|---|---|',
    ...checks,
    '<!-- /scenario -->',
    '',
  ].join('\n');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
