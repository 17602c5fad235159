import { Module } from '@nestjs/common';
import { SqlModule } from '../database/sql.module';
import { TerminusModule } from '@nestjs/terminus';
import { LifecycleModule } from '../common/lifecycle.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RedisModule } from '../redis/redis.module';
import { StorageModule } from '../storage/storage.module';
import { DependencyProbes } from './dependency-probes';
import { HealthChecks } from './health-checks';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), SqlModule, RedisModule, StorageModule, LifecycleModule, MetricsModule],
  controllers: [HealthController],
  providers: [DependencyProbes, HealthChecks],
  exports: [DependencyProbes],
})
export class HealthModule {}
