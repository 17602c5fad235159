import { setTimeout as sleep } from 'node:timers/promises';
import { ActiveJobSampler, nothingAfterCancel, outcomeChecks } from './support/checks';
import { runScenario, scaled, seconds } from './support/scenario';
import { countByState, outcomes, submitObjects, waitUntilSettled } from './support/workload';

const OBJECTS = scaled(150);

it('cancel race: objects cancelled at random moments of their processing', async () => {
  await runScenario('cancel-race', { workers: 3, maxParallelWorkers: 4, env: { SIMULATED_OPERATION_DELAY_MS: '150' } }, async (cluster) => {
    const sampler = new ActiveJobSampler(cluster);
    const { objects } = await submitObjects(cluster, { count: OBJECTS, operations: ['analyze'], label: 'cancel' });
    let cancels = 0;
    let refused = 0;
    await Promise.all(
      objects.map(async (object, index) => {
        await sleep((index * 7919) % 6000);
        const response = await fetch(`${cluster.apiUrl}/api/v1/objects/${object.id}/cancel`, { method: 'POST' });
        if (response.status === 200) {
          cancels += 1;
        } else {
          refused += 1;
        } // already completed: a cancel that lost the race
      }),
    );
    const settledIn = await waitUntilSettled(cluster, 120_000);
    const limit = sampler.stop();
    const rows = await outcomes(cluster);
    return {
      title: 'Cancel race',
      injected: `${OBJECTS} objects (plan of 4 operations, 150 ms each), each cancelled 0–6 s after submission while 3 workers run them`,
      figures: {
        'cancels accepted / refused (object already finished)': `${cancels} / ${refused}`,
        'states at the end': JSON.stringify(countByState(rows)),
        'all settled after the last cancel in': seconds(settledIn),
      },
      checks: [...(await outcomeChecks(cluster, objects, rows)), await nothingAfterCancel(cluster, rows), limit],
    };
  });
});
