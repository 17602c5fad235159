import type { FastifyRequest } from 'fastify';

/** What a key may do: read objects; write (submit, cancel, retry, delete); admin (keys, every team). */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who sent a request: the API key it carried, the team that key belongs to, and what it may do. */
export interface Principal {
  keyId: string;
  keyName: string;
  team: string;
  scopes: readonly Scope[];
}

const principals = new WeakMap<FastifyRequest, Principal>();

/** The principal the access hook found for this request; undefined when it carried no valid key. */
export function principalOf(request: FastifyRequest): Principal | undefined {
  return principals.get(request);
}

export function setPrincipal(request: FastifyRequest, principal: Principal): void {
  principals.set(request, principal);
}

/**
 * The name a request is counted under by per-client limits (rate limits, stream caps): its key,
 * or its address when it carried none (access control turned off, or a request about to be refused).
 */
export function clientKeyOf(request: FastifyRequest): string {
  const principal = principalOf(request);
  return principal ? `key:${principal.keyId}` : `ip:${request.ip}`;
}
