import { Controller, Get, HttpStatus, ServiceUnavailableException } from '@nestjs/common';
import { DomainError } from '../common/domain-errors';
import { ShutdownSignal } from '../common/shutdown-signal';
import { ErrorCode } from '../common/error-codes';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiNotReadyError } from '../common/api-errors.decorator';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { DependencyProbes } from './dependency-probes';
import { PublicAccess } from '../access/access.decorator';
import { MetricsService } from '../metrics/metrics.service';

/** Terminus's result; documented here because a failed check leaves in the one error shape, not as Terminus documents it. */
function healthResult(example: Record<string, unknown>) {
  const indicators = {
    type: 'object',
    additionalProperties: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['up', 'down'] } }, additionalProperties: true },
  };
  return {
    type: 'object',
    required: ['status', 'info', 'error', 'details'],
    properties: { status: { type: 'string', enum: ['ok'] }, info: indicators, error: indicators, details: indicators },
    example: { status: 'ok', info: example, error: {}, details: example },
  };
}

const ALL_UP = { database: { status: 'up' }, redis: { status: 'up' }, s3: { status: 'up' } };

@ApiTags('health')
@PublicAccess()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly probes: DependencyProbes,
    private readonly shutdown: ShutdownSignal,
    private readonly metrics: MetricsService,
  ) {}

  @Get()
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Same as /health/ready' })
  @ApiOkResponse({ description: 'PostgreSQL, Redis and S3 all reachable', schema: healthResult(ALL_UP) })
  @ApiNotReadyError()
  check(): Promise<HealthCheckResult> {
    return this.ready();
  }

  @Get('live')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Liveness: the process answers. Never depends on PostgreSQL, Redis or S3.' })
  @ApiOkResponse({ description: 'The process answers', schema: healthResult({}) })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness: PostgreSQL, Redis and S3 all reachable' })
  @ApiOkResponse({ description: 'PostgreSQL, Redis and S3 all reachable', schema: healthResult(ALL_UP) })
  @ApiNotReadyError()
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
