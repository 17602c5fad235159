import type { FastifyRequest } from 'fastify';

/** What a key may do: read objects; write (submit, cancel, retry, delete); admin (keys, every team, and all of the above). */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The team objects belong to when access control is off, and objects made before teams existed. */
export const DEFAULT_TEAM = 'default';

/** Who sent a request: the API key it carried, the team that key belongs to, and what it may do. */
export interface Principal {
  /** The key's id; null when access control is off and nobody is asked for a key. */
  keyId: string | null;
  keyName: string;
  team: string;
  scopes: readonly Scope[];
  /** Set for a stream token: the one object whose progress stream it opens. */
  streamOf?: string;
}

/** Everyone, when access control is turned off: every scope, the default team. */
export const OPEN_ACCESS: Principal = { keyId: null, keyName: 'open access', team: DEFAULT_TEAM, scopes: SCOPES };

const principals = new WeakMap<FastifyRequest, Principal>();

/** The principal the access hook found for this request; undefined when it carried no valid key. */
export function principalOf(request: FastifyRequest): Principal | undefined {
  return principals.get(request);
}

export function setPrincipal(request: FastifyRequest, principal: Principal): void {
  principals.set(request, principal);
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes(scope) || principal.scopes.includes('admin');
}

/** The team whose objects the principal may see: undefined for admin keys, which see every team. */
export function visibleTeam(principal: Principal): string | undefined {
  return principal.scopes.includes('admin') ? undefined : principal.team;
}

/**
 * The name a request is counted under by per-client limits (rate limits, stream caps): its key,
 * or its address when it carried none (access control turned off, or a request about to be refused).
 */
export function clientKeyOf(request: FastifyRequest): string {
  const keyId = principalOf(request)?.keyId;
  return keyId ? `key:${keyId}` : `ip:${request.ip}`;
}
