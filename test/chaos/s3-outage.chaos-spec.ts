import { runScenario, scaled } from './support/scenario';
import { objectsThroughOutage } from './support/outage';

it('S3 outage of 20 s while objects are processed', async () => {
  await runScenario('s3-outage', { workers: 3, maxParallelWorkers: 4, env: { SIMULATED_OPERATION_DELAY_MS: '150' } }, async (cluster) => ({
    title: 'S3 outage of 20 s',
    ...(await objectsThroughOutage(cluster, scaled(80), {
      dependency: 'S3',
      durationMs: 20_000,
      down: () => cluster.s3.down(),
      up: () => cluster.s3.up(),
    })),
  }));
});
