import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DependencyUnavailableError } from '../common/domain-errors';
import { isDependencyFailure } from '../common/dependency-failure';
import { UnauthorizedError } from './access-errors';
import { ApiKeysService, KeyRefusal } from './api-keys.service';
import { setPrincipal } from './principal';
import { StreamTokens } from './stream-tokens';

const REFUSAL_MESSAGES: Record<KeyRefusal, string> = {
  malformed: 'The Authorization header does not hold an API key of this service (opsk_…)',
  unknown: 'Unknown API key',
  revoked: 'This API key has been revoked',
};

/** Why a request that presented credentials has no principal: answered by the access guard on routes that need one. */
const refusals = new WeakMap<FastifyRequest, Error>();

export function refusalOf(request: FastifyRequest): Error | undefined {
  return refusals.get(request);
}

/**
 * Finds who sent each request, before anything else runs (so per-client limits can count by key): an
 * `Authorization: Bearer <API key>` header, or, for the progress stream of browsers, an `access_token`
 * query parameter holding a stream token. Nothing is refused here: the access guard decides per route.
 */
export function authenticateRequests(fastify: FastifyInstance, apiKeys: ApiKeysService, streamTokens: StreamTokens): void {
  fastify.addHook('onRequest', async (request) => {
    try {
      await authenticate(request, apiKeys, streamTokens);
    } catch (error) {
      if (!isDependencyFailure(error)) {
        throw error;
      }
      refusals.set(request, new DependencyUnavailableError('The API key store', error));
    }
  });
}

async function authenticate(request: FastifyRequest, apiKeys: ApiKeysService, streamTokens: StreamTokens): Promise<void> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const bearer = /^Bearer +(\S+) *$/i.exec(header)?.[1];
    const found = bearer === undefined ? 'malformed' : await apiKeys.authenticate(bearer);
    if (typeof found === 'string') {
      refusals.set(request, new UnauthorizedError(bearer === undefined ? 'The Authorization header must be "Bearer <API key>"' : REFUSAL_MESSAGES[found]));
    } else {
      setPrincipal(request, found);
    }
    return;
  }
  const token = (request.query as Record<string, unknown> | undefined)?.access_token;
  if (typeof token === 'string') {
    const holder = await streamTokens.verify(token);
    if (holder) {
      setPrincipal(request, holder);
    } else {
      refusals.set(request, new UnauthorizedError('The stream token is unknown or has expired; ask for a new one'));
    }
  }
}
