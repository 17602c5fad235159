import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DependencyUnavailableError } from '../common/domain-errors';
import { isDependencyFailure } from '../common/dependency-failure';
import { UnauthorizedError } from './access-errors';
import { ApiKeysService, KeyRefusal } from './api-keys.service';
import { setPrincipal } from './principal';
import { StreamTokens } from './stream-tokens';
import { routedPathOf } from '../common/request-path';

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
 * Finds who sent each request to a path that may need it (`usesKeys`: the API, and whatever else configuration
 * puts behind keys), before anything else runs, so per-client limits can count by key: an
 * `Authorization: Bearer <API key>` header, or, for the progress stream of browsers, an `access_token` query
 * parameter holding a stream token. Public paths never cause a lookup. Nothing is refused here: the access
 * guard decides per route.
 */
export function authenticateRequests(
  fastify: FastifyInstance,
  usesKeys: (path: string) => boolean,
  apiKeys: ApiKeysService,
  streamTokens: StreamTokens,
): void {
  fastify.addHook('onRequest', async (request) => {
    if (usesKeys(routedPathOf(request))) {
      await authenticate(request, apiKeys, streamTokens);
    }
  });
}

async function authenticate(request: FastifyRequest, apiKeys: ApiKeysService, streamTokens: StreamTokens): Promise<void> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const bearer = /^Bearer +(\S+) *$/i.exec(header)?.[1];
    const found = bearer === undefined ? 'malformed' : await asking('The API key store', () => apiKeys.authenticate(bearer), request);
    if (found === undefined) {
      return;
    }
    if (typeof found === 'string') {
      refusals.set(
        request,
        new UnauthorizedError(bearer === undefined ? 'The Authorization header must be "Bearer <API key>"' : REFUSAL_MESSAGES[found]),
      );
    } else {
      setPrincipal(request, found);
    }
    return;
  }
  const token = (request.query as Record<string, unknown> | undefined)?.access_token;
  if (typeof token === 'string') {
    const holder = await asking('The stream token store', () => streamTokens.verify(token), request);
    if (holder === undefined) {
      return;
    }
    // A token lives no longer than the key it was issued with.
    const keyId = holder?.keyId ?? null;
    const usable = holder !== null && (keyId === null || (await asking('The API key store', () => apiKeys.isUsable(keyId), request)));
    if (usable === undefined) {
      return;
    }
    if (holder !== null && usable) {
      setPrincipal(request, holder);
    } else {
      refusals.set(request, new UnauthorizedError('The stream token is unknown or has expired; ask for a new one'));
    }
  }
}

/** The answer of a store, or undefined when it is unreachable: the request is then answered 503 where it needs a principal. */
async function asking<T>(store: string, question: () => Promise<T>, request: FastifyRequest): Promise<T | undefined> {
  try {
    return await question();
  } catch (error) {
    if (!isDependencyFailure(error)) {
      throw error;
    }
    refusals.set(request, new DependencyUnavailableError(store, error));
    return undefined;
  }
}
