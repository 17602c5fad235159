import { setTimeout as sleep } from 'node:timers/promises';
import { ActiveJobSampler, outcomeChecks } from './support/checks';
import { runScenario, scaled, seconds } from './support/scenario';
import { countByState, outcomes, submitObjects, waitUntilSettled } from './support/workload';

const OBJECTS = scaled(200);
const KILLS = scaled(50);
const RUNNING = /Running as role 'worker'/;

it('worker SIGKILL storm: workers killed one after another while they process', async () => {
  await runScenario(
    'worker-kill-storm',
    { workers: 3, maxParallelWorkers: 4, env: { SIMULATED_OPERATION_DELAY_MS: '100' } },
    async (cluster) => {
      const sampler = new ActiveJobSampler(cluster);
      const { objects } = await submitObjects(cluster, { count: OBJECTS, operations: ['analyze'], label: 'storm' });
      const stormStarted = Date.now();
      let kills = 0;
      while (kills < KILLS) {
        // Only a worker that has started is killed, so the storm never stops all processing for good.
        const running = cluster.workers.filter((worker) => RUNNING.test(worker.output()));
        if (running.length > 0) {
          await cluster.kill(running[kills % running.length]!);
          cluster.startWorker();
          kills += 1;
        }
        await sleep(400);
      }
      const stormMs = Date.now() - stormStarted;
      const settledIn = await waitUntilSettled(cluster, 300_000);
      const limit = sampler.stop();
      const rows = await outcomes(cluster);
      return {
        title: 'Worker SIGKILL storm',
        injected: `${OBJECTS} objects (4 operations each, 100 ms added per operation) on 3 worker processes, MAX_PARALLEL_WORKERS=4; ${KILLS} SIGKILLs of a running worker, one every 400 ms or as soon as one has started, each replaced at once`,
        figures: {
          'storm length': seconds(stormMs),
          'all settled after the last kill in': seconds(settledIn),
          'states at the end': JSON.stringify(countByState(rows)),
        },
        // An object whose worker is killed under it more often than BullMQ's stall limit is failed on purpose (that is
        // what an object that kills its worker looks like); it must say so and complete when retried.
        checks: [...(await outcomeChecks(cluster, objects, rows, ['completed', 'failed'])), limit],
      };
    },
  );
});
