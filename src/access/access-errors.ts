import { HttpStatus } from '@nestjs/common';
import { DomainError } from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';

export class UnauthorizedError extends DomainError {
  constructor(message: string) {
    super(HttpStatus.UNAUTHORIZED, ErrorCode.Unauthorized, message, undefined, { 'www-authenticate': 'Bearer realm="object-processing"' });
  }
}

export class InsufficientScopeError extends DomainError {
  constructor(needed: string, held: readonly string[]) {
    super(HttpStatus.FORBIDDEN, ErrorCode.InsufficientScope, `This API key lacks the '${needed}' scope (it has: ${held.join(', ')})`, {
      needed,
      held,
    });
  }
}

export class ApiKeyNotFoundError extends DomainError {
  constructor(id: string) {
    super(HttpStatus.NOT_FOUND, ErrorCode.ApiKeyNotFound, `API key ${id} not found`);
  }
}

export class TeamQueueFullError extends DomainError {
  constructor(team: string, cap: number, retryAfterSeconds: number) {
    super(
      HttpStatus.TOO_MANY_REQUESTS,
      ErrorCode.TeamQueueFull,
      `Team '${team}' has ${cap} objects waiting, its cap; submit again once some have started`,
      { team, cap },
      { 'retry-after': String(retryAfterSeconds) },
    );
  }
}
