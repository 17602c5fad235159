import { Module } from '@nestjs/common';
import { ObjectsModule } from '../objects/objects.module';
import { OperationsModule } from '../operations/operations.module';
import { GlobalLimit } from '../queue/global-limit';
import { Cancellations } from './cancellations';
import { ObjectProcessor } from './object-processor';
import { ObjectWorker } from './object-worker';
import { QueueReconciler } from './queue-reconciler';

/** Imported only by processes that run the worker role: every provider here consumes jobs. */
@Module({
  imports: [ObjectsModule, OperationsModule],
  providers: [Cancellations, GlobalLimit, ObjectProcessor, ObjectWorker, QueueReconciler],
})
export class WorkerModule {}
