import { Module } from '@nestjs/common';
import { SqlModule } from '../database/sql.module';
import { TerminusModule } from '@nestjs/terminus';
import { DependencyProbes } from './dependency-probes';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), SqlModule],
  controllers: [HealthController],
  providers: [DependencyProbes],
  exports: [DependencyProbes],
})
export class HealthModule {}
