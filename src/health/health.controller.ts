import { Controller, Get, HttpStatus, ServiceUnavailableException } from '@nestjs/common';
import { DomainError } from '../common/domain-errors';
import { ShutdownSignal } from '../common/shutdown-signal';
import { ErrorCode } from '../common/error-codes';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-errors.decorator';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { DependencyProbes } from './dependency-probes';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly probes: DependencyProbes,
    private readonly shutdown: ShutdownSignal,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Same as /health/ready' })
  @ApiErrors(503)
  check(): Promise<HealthCheckResult> {
    return this.ready();
  }

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process answers. Never depends on PostgreSQL, Redis or S3.' })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: PostgreSQL, Redis and S3 all reachable' })
  @ApiErrors(503)
  async ready(): Promise<HealthCheckResult> {
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
