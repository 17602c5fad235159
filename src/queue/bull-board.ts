import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/error-codes';
import { isDependencyFailure } from '../common/dependency-failure';
import { errorBody } from '../common/http-exception.filter';
import { AppConfig } from '../config/app-config';
import { OBJECTS_QUEUE } from './jobs';
import { ApiKeysService } from '../access/api-keys.service';
import { principalOf } from '../access/principal';

/**
 * The Bull Board queue dashboard at BULL_BOARD_PATH, for API roles only, behind HTTP basic auth
 * unless BULL_BOARD_INSECURE=true: its own credentials, or, with access control on, any user name
 * and an admin API key as the password (a browser can only prompt for basic auth); scripts may
 * send the admin key as a Bearer token. Mounted on Fastify directly, so it stays out of the OpenAPI document.
 */
export async function mountBullBoard(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  if (!config.bullBoard || !config.runsApi) {
    return;
  }
  const { path, credentials } = config.bullBoard;
  const apiKeys = config.access.required ? app.get(ApiKeysService) : undefined;
  const serverAdapter = new BullBoardAdapter().setBasePath(path);
  createBullBoard({
    queues: [new BullMQAdapter(app.get<Queue>(getQueueToken(OBJECTS_QUEUE)))],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Object processing' } },
  });
  await app.register(
    async (scope: FastifyInstance) => {
      if (credentials || apiKeys) {
        scope.addHook('onRequest', dashboardAuth(credentials, apiKeys));
      }
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: path },
  );
}

function dashboardAuth(credentials: { username: string; password: string } | undefined, apiKeys: ApiKeysService | undefined) {
  const expected = credentials && digest(`${credentials.username}:${credentials.password}`);
  const isAdminKey = async (key: string) => {
    const found = apiKeys ? await apiKeys.authenticate(key) : 'unknown';
    return typeof found !== 'string' && found.scopes.includes('admin');
  };
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const bearer = principalOf(request);
    if (bearer?.scopes.includes('admin') && bearer.streamOf === undefined) {
      return undefined;
    }
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(request.headers.authorization ?? '');
    const given = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : undefined;
    try {
      if (
        given !== undefined &&
        ((expected && timingSafeEqual(digest(given), expected)) || (await isAdminKey(given.slice(given.indexOf(':') + 1))))
      ) {
        return undefined;
      }
    } catch (error) {
      if (!isDependencyFailure(error)) {
        throw error;
      }
      return reply.code(503).send(errorBody(503, ErrorCode.DependencyUnavailable, 'The API key store is unavailable; try again shortly'));
    }
    return reply
      .code(401)
      .header('www-authenticate', 'Basic realm="Queue dashboard", charset="UTF-8"')
      .send(errorBody(401, ErrorCode.Unauthorized, 'Authentication required'));
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
