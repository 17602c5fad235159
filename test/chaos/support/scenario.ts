import { execFileSync } from 'node:child_process';
import { CHAOS_SETTINGS, ChaosCluster, ClusterOptions } from './cluster';
import { recordResult, ScenarioName, ScenarioResult } from './report';

/**
 * Runs one scenario on a cluster of its own, always stops that cluster (processes and directories),
 * records the result in docs/RELIABILITY.md, and fails the test when a check did not hold.
 */
export async function runScenario(
  name: ScenarioName,
  options: ClusterOptions,
  scenario: (cluster: ChaosCluster) => Promise<Omit<ScenarioResult, 'name'>>,
): Promise<void> {
  const cluster = await ChaosCluster.start(options);
  let result: ScenarioResult;
  try {
    result = { name, ...(await scenario(cluster)) };
  } finally {
    await cluster.stop();
  }
  const exits = cluster.figures.unexpectedExits;
  result.figures['service settings (all else default)'] = Object.entries({ ...CHAOS_SETTINGS, ...options.env })
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  result.figures['processes that exited on their own (restarted by the harness)'] = exits.length
    ? exits.map((exit) => `${exit.role} (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''})`).join(', ')
    : 'none';
  result.figures[
    'reconciler recoveries logged by all worker processes (job re-added / replaced / object failed after stalling out); several processes may log the same re-add'
  ] = [/had no job in the queue; re-added job/, /queued again as job/, /worker stopped while running it too many times/]
    .map((pattern) => cluster.countLogged(pattern))
    .join(' / ');
  result.figures['unhandled rejections logged (the process went on)'] = String(cluster.countLogged(/Unhandled promise rejection/));
  result.checks.push({
    name: 'no service process exits on its own',
    held: exits.length === 0,
    detail: exits.length ? `last lines before the first exit:\n${exits[0]!.lastLines.split('\n').slice(-3).join(' / ')}` : 'none did',
  });
  if (process.env.CHAOS_QUICK === '1') {
    result.title += ' (quick run: CHAOS_QUICK=1, a tenth of the counts)';
  }
  recordResult(result, execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim());
  const failed = result.checks.filter((check) => !check.held).map((check) => `${check.name}: ${check.detail}`);
  expect(failed).toEqual([]);
}

export function seconds(ms: number | null): string {
  return ms === null ? 'did not happen within the wait' : `${(ms / 1000).toFixed(1)} s`;
}

/** `count`, or a tenth of it with CHAOS_QUICK=1 (for trying a scenario out; the report says so). */
export function scaled(count: number): number {
  return process.env.CHAOS_QUICK === '1' ? Math.max(5, Math.ceil(count / 10)) : count;
}
