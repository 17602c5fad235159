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
  if (!existsSync(REPORT)) return sections;
  for (const match of readFileSync(REPORT, 'utf8').matchAll(/<!-- scenario:([\w-]+) -->[\s\S]*?<!-- \/scenario -->\n/g)) {
    sections.set(match[1], match[0]);
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
