import { setTimeout as sleep } from 'node:timers/promises';
import { outcomeChecks } from './support/checks';
import { runScenario, scaled, seconds } from './support/scenario';
import { countByState, outcomes, submitObjects, waitUntilSettled } from './support/workload';

const OBJECTS = scaled(200);
const API_KILLS = 5;

it('API kill during a submission burst: clients resend with their Idempotency-Key', async () => {
  await runScenario('api-kill-burst', { workers: 2, maxParallelWorkers: 4 }, async (cluster) => {
    const burst = submitObjects(cluster, { count: OBJECTS, operations: ['analyze'], label: 'burst', parallel: 8, pauseMs: 200 });
    let kills = 0;
    let downMs = 0;
    let finished = false;
    void burst.finally(() => (finished = true));
    while (kills < API_KILLS && !finished) {
      await sleep(300);
      await cluster.kill(cluster.api);
      const killedAt = Date.now();
      kills += 1;
      await cluster.startApi();
      downMs += Date.now() - killedAt;
    }
    const { objects, figures } = await burst;
    const settledIn = await waitUntilSettled(cluster, 300_000);
    const rows = await outcomes(cluster);
    return {
      title: 'API kill during a submission burst',
      injected: `${OBJECTS} submissions from 8 clients (each pausing 200 ms between its submissions), each with its own Idempotency-Key; the API process SIGKILLed ${kills} times during the burst (0.3 s after it is back each time) and restarted; 2 workers`,
      figures: {
        'requests sent / resent after a network error or 5xx': `${figures.requests} / ${figures.resent}`,
        'API downtime in total': seconds(downMs),
        'keys answered with two different object ids': String(figures.conflictingAnswers.length),
        'all settled after the burst in': seconds(settledIn),
        'states at the end': JSON.stringify(countByState(rows)),
      },
      checks: [
        {
          name: 'a resent key is answered with the object of its first request',
          held: figures.conflictingAnswers.length === 0,
          detail: `${figures.conflictingAnswers.length} keys with conflicting answers`,
        },
        ...(await outcomeChecks(cluster, objects, rows, ['completed'])),
      ],
    };
  });
});
