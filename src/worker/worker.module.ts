import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { NotificationsModule } from '../notifications/notifications.module';
import { HealthModule } from '../health/health.module';
import { MetricsModule } from '../metrics/metrics.module';
import { ObjectsModule } from '../objects/objects.module';
import { GlobalLimit } from '../queue/global-limit';
import { QueueModule } from '../queue/queue.module';
import { StorageModule } from '../storage/storage.module';
import { Cancellations } from './cancellations';
import { DependencyGate } from './dependency-gate';
import { objectJobsProcessorFor } from './object-jobs.processor';
import { OperationProcesses } from './operation-processes';
import { PlanRunner } from './plan-runner';
import { QueueReconciler } from './queue-reconciler';
import { WebhookDispatcher } from '../webhooks/webhook-dispatcher';
import { WebhooksModule } from '../webhooks/webhooks.module';

/** Imported only by processes that run the worker role: every provider here consumes jobs. */
@Module({})
export class WorkerModule {
  /** `config` gives the processor its worker options (see objectJobsProcessorFor). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [ObjectsModule, HealthModule, WebhooksModule, QueueModule, StorageModule, NotificationsModule, MetricsModule],
      providers: [
        Cancellations,
        DependencyGate,
        GlobalLimit,
        PlanRunner,
        objectJobsProcessorFor(config),
        OperationProcesses,
        QueueReconciler,
        WebhookDispatcher,
      ],
    };
  }
}
