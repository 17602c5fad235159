import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config';
import { InsufficientScopeError, UnauthorizedError } from './access-errors';
import { ACCESS_RULE, AccessRule } from './access.decorator';
import { refusalOf } from './authentication';
import { hasScope, principalOf, Scope } from './principal';

/** Lets a request through when its route's access rule allows it: 401 without a valid key, 403 without the scope. */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [context.getHandler(), context.getClass()]) ?? {
      scope: 'admin',
    };
    const scope = this.scopeOf(rule);
    if (scope === 'public' || !this.config.access.required) {
      return true;
    }
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const principal = principalOf(request);
    if (!principal) {
      throw refusalOf(request) ?? new UnauthorizedError('This route needs an API key: send the header Authorization: Bearer <key>');
    }
    if (
      principal.streamOf !== undefined &&
      !(rule.streamToken && (request.params as Record<string, string>).object_id?.toLowerCase() === principal.streamOf)
    ) {
      throw new UnauthorizedError('A stream token opens only the progress stream of its object');
    }
    if (!hasScope(principal, scope)) {
      throw new InsufficientScopeError(scope, principal.scopes);
    }
    return true;
  }

  private scopeOf(rule: AccessRule): Scope | 'public' {
    if (rule.scope === 'metrics') {
      return this.config.access.metricsRequireKey ? 'admin' : 'public';
    }
    return rule.scope;
  }
}
