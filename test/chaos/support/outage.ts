import { setTimeout as sleep } from 'node:timers/promises';
import { ActiveJobSampler, Check, outcomeChecks } from './checks';
import type { ChaosCluster } from './cluster';
import { seconds } from './scenario';
import { countByState, outcomes, settledAfter, submitObjects, whenCompleted } from './workload';

export interface Outage {
  dependency: string;
  durationMs: number;
  down(): Promise<void>;
  up(): Promise<void>;
}

/**
 * The shape of a dependency-outage scenario: objects are submitted, the dependency goes away once a
 * quarter of them completed, comes back after the outage, and the objects must then all settle:
 * completed, or failed with a message (retryable). The figures say how many of each, and how long
 * after the dependency returned everything had settled.
 */
export async function objectsThroughOutage(cluster: ChaosCluster, objectCount: number, outage: Outage) {
  const sampler = new ActiveJobSampler(cluster);
  const { objects } = await submitObjects(cluster, { count: objectCount, operations: ['analyze'], label: outage.dependency.toLowerCase() });
  await whenCompleted(cluster, Math.floor(objectCount / 4));
  await outage.down();
  await sleep(outage.durationMs);
  await outage.up();
  const returnedAt = Date.now();
  const settledIn = await settledAfter(cluster, returnedAt, 300_000);
  const limit = sampler.stop();
  const rows = await outcomes(cluster);
  const checks: Check[] = [
    ...(await outcomeChecks(cluster, objects, rows, ['completed', 'failed'])),
    {
      name: `no object fails because of the outage (expected once workers pause while ${outage.dependency} is down)`,
      held: rows.every((row) => row.state === 'completed'),
      detail: `${rows.filter((row) => row.state !== 'completed').length} not completed${exampleFailure(rows)}`,
    },
    limit,
  ];
  return {
    injected: `${objectCount} objects (4 operations, 150 ms added each) on 3 workers, MAX_PARALLEL_WORKERS=4; once a quarter of them completed, ${outage.dependency} stopped for ${outage.durationMs / 1000} s, then started again`,
    figures: {
      'all settled after it came back in': seconds(settledIn),
      'states at the end': JSON.stringify(countByState(rows)),
    },
    checks,
  };
}

function exampleFailure(rows: { state: string; error_message: string | null }[]): string {
  const failed = rows.find((row) => row.state === 'failed');
  return failed ? ` (e.g. "${failed.error_message}")` : '';
}
