import { Global, Module } from '@nestjs/common';
import { ObjectsModule } from '../objects/objects.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/** Prometheus metrics at /metrics, for every role. */
@Global()
@Module({
  imports: [ObjectsModule],
  controllers: [MetricsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsModule {}
