import { Module } from '@nestjs/common';
import type { AppRole } from './app-role';
import { RetentionWorkerModule } from './retention/retention-worker.module';
import { WorkerModule } from './worker/worker.module';

@Module({})
class WorkerRoleModule {}

/** The consumers of the processing and retention queues (roles worker and all). */
export const workerRole: AppRole = {
  module: (config) => ({
    module: WorkerRoleModule,
    imports: [WorkerModule.forRoot(config), RetentionWorkerModule.forRoot(config)],
  }),
};
