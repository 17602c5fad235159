import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/error-codes';
import { errorBody } from '../common/http-exception.filter';
import { AppConfig } from '../config/app-config';
import { ProcessingQueue } from './processing-queue';

/**
 * The Bull Board queue dashboard at BULL_BOARD_PATH, for API roles only, behind HTTP basic
 * auth unless BULL_BOARD_INSECURE=true. Mounted on Fastify directly, so it stays out of the
 * OpenAPI document.
 */
export async function mountBullBoard(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  if (!config.bullBoard || !config.runsApi) {
    return;
  }
  const { path, credentials } = config.bullBoard;
  const serverAdapter = new BullBoardAdapter().setBasePath(path);
  createBullBoard({
    queues: [new BullMQAdapter(app.get(ProcessingQueue).queue)],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Object processing' } },
  });
  await app.register(
    async (scope: FastifyInstance) => {
      if (credentials) {
        scope.addHook('onRequest', basicAuth(credentials));
      }
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: path },
  );
}

function basicAuth(credentials: { username: string; password: string }) {
  const expected = digest(`${credentials.username}:${credentials.password}`);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(request.headers.authorization ?? '');
    const given = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    if (match && timingSafeEqual(digest(given), expected)) {
      return undefined;
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
