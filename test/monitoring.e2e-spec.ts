import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { closeDatabase } from './support/database';
import { TestApp, startTestApp } from './support/test-app';

const MONITORING = join(__dirname, '..', 'deploy', 'monitoring');

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
}

interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query: string }[] };
  panels: Panel[];
}

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

const PROMQL_KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression reads: what is left once strings, label matchers, ranges,
 * grouping clauses, numbers and durations are taken out, less functions (a name before `(`) and keywords.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b\d+(\.\d+)?([smhdwy]|ms)?\b/g, ' ');
  return [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?!\s*\(|[A-Za-z0-9_:])/g)]
    .map(([name]) => name)
    .filter((name) => !PROMQL_KEYWORDS.has(name.toLowerCase()));
}

/** Every series name a scrape of `exposition` can hold: each metric's, and a histogram's or summary's _bucket, _sum and _count. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of ['_bucket', '_sum', '_count']) {
        names.add(`${name}${suffix}`);
      }
    }
  }
  return names;
}

function balanced(expr: string): boolean {
  let depth = 0;
  for (const character of expr.replace(/"(?:[^"\\]|\\.)*"/g, '')) {
    if ('({['.includes(character)) {
      depth++;
    }
    if (')}]'.includes(character)) {
      depth--;
    }
    if (depth < 0) {
      return false;
    }
  }
  return depth === 0;
}

describe('deploy/monitoring: the Grafana dashboard and the Prometheus alert rules', () => {
  const dashboard = JSON.parse(readFileSync(join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as Dashboard;
  const rules = (
    parse(readFileSync(join(MONITORING, 'prometheus-rules.yaml'), 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] }
  ).groups.flatMap((group) => group.rules);
  const queries = dashboard.panels
    .filter((panel) => panel.type !== 'row')
    .flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  let service: TestApp;
  let exported: Set<string>;

  beforeAll(async () => {
    // API and worker in one process export every metric the two roles do.
    service = await startTestApp();
    await request(service.baseUrl).get('/health/ready').expect(200);
    exported = exportedNames((await request(service.baseUrl).get('/metrics').expect(200)).text);
  });

  afterAll(async () => {
    await service.close();
    await closeDatabase();
  });

  it('read only metrics the service exports', () => {
    const read = new Set([...queries, ...rules.map((rule) => rule.expr)].flatMap(metricNames));
    expect(read.size).toBeGreaterThanOrEqual(10);
    expect([...read].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('have well-formed expressions', () => {
    // The extraction is checked on a known expression, so that a parse that finds nothing cannot pass.
    expect(metricNames('sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"a|b"}[5m])) / on (x) max(up) > 0.5')).toEqual(
      ['http_request_duration_seconds_bucket', 'up'],
    );
    expect([...queries, ...rules.map((rule) => rule.expr)].filter((expr) => !balanced(expr) || metricNames(expr).length === 0)).toEqual([]);
  });

  it('chart throughput, latency by route, the queue, its oldest waiting object, operations, failures, dead letters, SSE connections and webhook deliveries', () => {
    expect(dashboard).toMatchObject({ uid: expect.any(String) as unknown, title: expect.any(String) as unknown });
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
    for (const panel of panels) {
      expect({ title: panel.title, datasource: panel.datasource, targets: (panel.targets ?? []).length > 0 }).toEqual({
        title: panel.title,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        targets: true,
      });
    }
    const reading = (metric: string) =>
      panels.filter((panel) => panel.targets!.some((target) => metricNames(target.expr).includes(metric))).map((panel) => panel.title);
    expect(reading('http_request_duration_seconds_count')).toContain('Throughput by route');
    expect(reading('http_request_duration_seconds_bucket')).toContain('Latency by route (p50, p95, p99)');
    expect(reading('queue_jobs')).toEqual(expect.arrayContaining(['Queue depth', 'Dead letters']));
    expect(reading('queue_oldest_waiting_seconds')).toEqual(['Oldest waiting object']);
    expect(reading('operation_duration_seconds_bucket')).toContain('Operation duration (p50, p95)');
    expect(reading('operation_duration_seconds_count')).toEqual(
      expect.arrayContaining(['Operations finished per second', 'Operation failure ratio']),
    );
    expect(reading('object_failures_total')).toContain('Objects failed, by error code');
    expect(reading('sse_connections')).toEqual(['SSE connections']);
    expect(reading('webhook_delivery_attempts_total')).toEqual(['Webhook delivery attempts']);
  });

  it('alert on a queue not draining, the failure ratio, readiness flapping and absent workers, each with a severity and an explanation', () => {
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining(['QueueNotDraining', 'OperationFailureRatioHigh', 'ReadinessFlapping', 'WorkersAbsent']),
    );
    for (const rule of rules) {
      expect({
        alert: rule.alert,
        severity: rule.labels?.severity,
        summary: typeof rule.annotations?.summary,
        description: typeof rule.annotations?.description,
      }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(critical|warning)$/) as unknown,
        summary: 'string',
        description: 'string',
      });
      if (rule.for !== undefined) {
        expect(rule.for).toMatch(/^\d+[smh]$/);
      }
    }
    const readingOf = (alert: string) => metricNames(rules.find((rule) => rule.alert === alert)!.expr);
    expect(readingOf('QueueNotDraining')).toEqual(['queue_oldest_waiting_seconds']);
    expect(readingOf('ReadinessFlapping')).toEqual(['health_ready']);
    expect(readingOf('WorkersAbsent')).toEqual(['queue_workers', 'queue_workers']);
    expect(new Set(readingOf('OperationFailureRatioHigh'))).toEqual(new Set(['operation_duration_seconds_count']));
  });
});
