import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiNotReadyError } from '../common/api-errors.decorator';
import { HealthCheck, HealthCheckResult } from '@nestjs/terminus';
import { HealthChecks } from './health-checks';
import { PublicAccess } from '../access/access.decorator';

/** Terminus's result; documented here because a failed check leaves in the one error shape, not as Terminus documents it. */
function healthResult(example: Record<string, unknown>) {
  const indicators = {
    type: 'object',
    additionalProperties: {
      type: 'object',
      required: ['status'],
      properties: { status: { type: 'string', enum: ['up', 'down'] } },
      additionalProperties: true,
    },
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
  constructor(private readonly checks: HealthChecks) {}

  @Get()
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Same as /health/ready' })
  @ApiOkResponse({ description: 'PostgreSQL, Redis and S3 all reachable', schema: healthResult(ALL_UP) })
  @ApiNotReadyError()
  check(): Promise<HealthCheckResult> {
    return this.checks.ready();
  }

  @Get('live')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Liveness: the process answers. Never depends on PostgreSQL, Redis or S3.' })
  @ApiOkResponse({ description: 'The process answers', schema: healthResult({}) })
  live(): Promise<HealthCheckResult> {
    return this.checks.live();
  }

  @Get('ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness: PostgreSQL, Redis and S3 all reachable' })
  @ApiOkResponse({ description: 'PostgreSQL, Redis and S3 all reachable', schema: healthResult(ALL_UP) })
  @ApiNotReadyError()
  ready(): Promise<HealthCheckResult> {
    return this.checks.ready();
  }
}
