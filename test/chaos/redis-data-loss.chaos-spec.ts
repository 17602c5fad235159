import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../support/wait-for';
import { ActiveJobSampler, outcomeChecks } from './support/checks';
import { runScenario, scaled, seconds } from './support/scenario';
import { countByState, outcomes, settledAfter, submitObjects, whenCompleted } from './support/workload';

const OBJECTS = scaled(120);
const OUTAGE_MS = 5000;

it('Redis outage with data loss: Redis killed and started again empty while objects are queued', async () => {
  await runScenario(
    'redis-data-loss',
    { workers: 3, maxParallelWorkers: 4, env: { SIMULATED_OPERATION_DELAY_MS: '150' } },
    async (cluster) => {
      const sampler = new ActiveJobSampler(cluster);
      const { objects } = await submitObjects(cluster, { count: OBJECTS, operations: ['analyze'], label: 'redis' });
      await whenCompleted(cluster, Math.floor(OBJECTS / 4));
      await cluster.redis.kill();
      await sleep(OUTAGE_MS);
      await cluster.redis.up();
      const restartedAt = Date.now();
      const redis = cluster.redisClient();
      const limitKey = `${cluster.prefix}:objects:meta`;
      const limitBackIn = await waitFor(async () => (await redis.hget(limitKey, 'concurrency')) !== null && Date.now() - restartedAt, {
        timeoutMs: 60_000,
        intervalMs: 20,
        what: 'the global limit in the new Redis',
      }).catch(() => null);
      redis.disconnect();
      const settledIn = await settledAfter(cluster, restartedAt, 300_000);
      const limit = sampler.stop();
      const rows = await outcomes(cluster);
      return {
        title: 'Redis outage with data loss',
        injected: `${OBJECTS} objects (4 operations, 150 ms added each) on 3 workers, MAX_PARALLEL_WORKERS=4; once a quarter of them completed, the private redis-server (no persistence) SIGKILLed, started again empty on the same port ${OUTAGE_MS / 1000} s later: every job, the queue's meta (global limit) and all locks are gone`,
        figures: {
          'global limit back in Redis after the restart in': seconds(limitBackIn),
          'all settled after the restart in': seconds(settledIn),
          'states at the end': JSON.stringify(countByState(rows)),
        },
        checks: [...(await outcomeChecks(cluster, objects, rows, ['completed'])), limit],
      };
    },
  );
});
