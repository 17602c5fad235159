import { runScenario, scaled } from './support/scenario';
import { objectsThroughOutage } from './support/outage';

it('PostgreSQL outage of 30 s while objects are processed', async () => {
  await runScenario(
    'postgres-outage',
    { workers: 3, maxParallelWorkers: 4, env: { SIMULATED_OPERATION_DELAY_MS: '150' } },
    async (cluster) => ({
      title: 'PostgreSQL outage of 30 s',
      ...(await objectsThroughOutage(cluster, scaled(80), {
        dependency: 'PostgreSQL',
        durationMs: 30_000,
        down: () => {
          cluster.postgres.down();
          return Promise.resolve();
        },
        up: () => {
          cluster.postgres.up();
          return Promise.resolve();
        },
      })),
    }),
  );
});
