import { HttpStatus, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { DomainError } from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';
import { ShutdownSignal } from '../common/shutdown-signal';
import { MetricsService } from '../metrics/metrics.service';
import { DependencyProbes } from './dependency-probes';

/** Liveness (the process answers) and readiness (PostgreSQL, Redis and S3 reachable, not shutting down), the latter recorded in the metrics. */
@Injectable()
export class HealthChecks {
  constructor(
    private readonly health: HealthCheckService,
    private readonly probes: DependencyProbes,
    private readonly shutdown: ShutdownSignal,
    private readonly metrics: MetricsService,
  ) {}

  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  async ready(): Promise<HealthCheckResult> {
    try {
      const result = await this.checkReady();
      this.metrics.recordReadiness(true);
      return result;
    } catch (error) {
      this.metrics.recordReadiness(false);
      throw error;
    }
  }

  private async checkReady(): Promise<HealthCheckResult> {
    if (this.shutdown.active) {
      throw new DomainError(HttpStatus.SERVICE_UNAVAILABLE, ErrorCode.NotReady, 'Not ready: shutting down');
    }
    try {
      return await this.health.check([() => this.probes.database(), () => this.probes.redisServer(), () => this.probes.objectStorage()]);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        const result = error.getResponse() as HealthCheckResult;
        const down = Object.keys(result.error ?? {});
        throw new DomainError(HttpStatus.SERVICE_UNAVAILABLE, ErrorCode.NotReady, `Not ready: ${down.join(', ')} unavailable`, result);
      }
      throw error;
    }
  }
}
