import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiErrors } from '../common/api-errors.decorator';
import { OPEN_ACCESS, Principal, principalOf, Scope } from './principal';

/**
 * Who may call a route: anyone ('public'), a key with a scope, or — for /metrics — whatever
 * METRICS_REQUIRE_KEY says. A route without a rule needs an admin key: forgetting one closes a route, never opens it.
 */
export type AccessRule = { scope: Scope | 'public' | 'metrics'; streamToken?: boolean };

export const ACCESS_RULE = 'access-rule';

/** The security scheme of the OpenAPI document: `Authorization: Bearer <API key>`. */
export const API_KEY_SCHEME = 'api_key';

/** The route needs an API key with `scope` (admin keys have every scope); documented with its 401 and 403. */
export function Access(scope: Scope, options: { streamToken?: boolean } = {}) {
  return applyDecorators(
    SetMetadata(ACCESS_RULE, { scope, ...options } satisfies AccessRule),
    ApiBearerAuth(API_KEY_SCHEME),
    ApiErrors(401, 403),
  );
}

export function PublicAccess() {
  return SetMetadata(ACCESS_RULE, { scope: 'public' } satisfies AccessRule);
}

export function MetricsAccess() {
  return SetMetadata(ACCESS_RULE, { scope: 'metrics' } satisfies AccessRule);
}

/** The principal of the request: its key, or open access when access control is off (the guard has refused everything else). */
export const Caller = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  return principalOf(context.switchToHttp().getRequest<FastifyRequest>()) ?? OPEN_ACCESS;
});
