import { Module } from '@nestjs/common';
import { ObjectsModule } from '../objects/objects.module';
import { QueueModule } from '../queue/queue.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/** Prometheus metrics at /metrics, for every role. */
@Module({
  imports: [ObjectsModule, QueueModule],
  controllers: [MetricsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsModule {}
