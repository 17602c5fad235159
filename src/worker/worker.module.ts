import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { HealthModule } from '../health/health.module';
import { MetricsModule } from '../metrics/metrics.module';
import { ObjectsModule } from '../objects/objects.module';
import { OperationsModule } from '../operations/operations.module';
import { GlobalLimit } from '../queue/global-limit';
import { QueueModule } from '../queue/queue.module';
import { StorageModule } from '../storage/storage.module';
import { Cancellations } from './cancellations';
import { DependencyGate } from './dependency-gate';
import { ObjectProcessor } from './object-processor';
import { ObjectWorker } from './object-worker';
import { OperationProcesses } from './operation-processes';
import { QueueReconciler } from './queue-reconciler';
import { WebhookDispatcher } from '../webhooks/webhook-dispatcher';
import { WebhooksModule } from '../webhooks/webhooks.module';

/** Imported only by processes that run the worker role: every provider here consumes jobs. */
@Module({
  imports: [ObjectsModule, OperationsModule, HealthModule, WebhooksModule, QueueModule, StorageModule, EventsModule, MetricsModule],
  providers: [Cancellations, DependencyGate, GlobalLimit, ObjectProcessor, ObjectWorker, OperationProcesses, QueueReconciler, WebhookDispatcher],
})
export class WorkerModule {}
