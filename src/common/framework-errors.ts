import { HttpStatus } from '@nestjs/common';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCode } from './error-codes';
import { ErrorBody, errorBody } from './http-exception.filter';
import { MAX_JSON_BODY_DEPTH, checkJsonTextDepth } from './json-limits';
import { RAW_ANSWER_SECURITY_HEADERS } from '../edge/security-headers';

const REQUEST_HEADER_FIELDS_TOO_LARGE = 431;

/**
 * Errors Fastify raises while routing, before any route or Nest's exception filter runs (the
 * adapter's `frameworkErrors` option): answered in the one error shape.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const body =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? errorBody(HttpStatus.URI_TOO_LONG, ErrorCode.UriTooLong, 'A path parameter is longer than 512 characters')
      : errorBody(HttpStatus.BAD_REQUEST, ErrorCode.MalformedRequest, 'The URL is not validly percent-encoded');
  // Raised before the onRequest hooks, which set the security headers of every other answer.
  void reply.headers(Object.fromEntries(RAW_ANSWER_SECURITY_HEADERS));
  void reply
    .status(body.statusCode)
    .header('x-request-id', request.id)
    .header('content-type', 'application/json; charset=utf-8')
    .send(body);
}

/**
 * Requests Node's HTTP parser refused (unknown method, malformed request line or header, headers
 * over the size limit, too slow): no request exists, so the answer is written to the socket.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return;
  }
  if (answerStarted(socket)) {
    // The request timed out while its answer was already going out (an early refusal of an upload): another status line would corrupt it.
    socket.destroy();
    return;
  }
  const body =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? errorBody(HttpStatus.REQUEST_TIMEOUT, ErrorCode.RequestTimeout, 'The request was not received in time')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? errorBody(REQUEST_HEADER_FIELDS_TOO_LARGE, ErrorCode.HeadersTooLarge, 'The request headers are larger than 16 KiB')
        : errorBody(
            HttpStatus.BAD_REQUEST,
            ErrorCode.MalformedRequest,
            'The request is not valid HTTP (unknown method, or a malformed request line or header)',
          );
  writeToSocket(socket, body);
}

/**
 * CONNECT and protocol upgrades (WebSocket): Node hands them to the server's 'connect' and
 * 'upgrade' events, and drops the connection when nothing listens. Refused in the one shape.
 */
export function refuseTunnels(server: Server): void {
  server.on('connect', (_request: IncomingMessage, socket: Duplex) =>
    writeToSocket(socket, errorBody(HttpStatus.BAD_REQUEST, ErrorCode.MalformedRequest, 'CONNECT is not supported')),
  );
  server.on('upgrade', (_request: IncomingMessage, socket: Duplex) =>
    writeToSocket(socket, errorBody(HttpStatus.BAD_REQUEST, ErrorCode.MalformedRequest, 'Protocol upgrades are not supported')),
  );
}

function writeToSocket(socket: Duplex, body: ErrorBody): void {
  const json = JSON.stringify(body);
  if (socket.writable) {
    const securityHeaders = RAW_ANSWER_SECURITY_HEADERS.map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.write(
      `HTTP/1.1 ${body.statusCode} ${body.error}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nContent-Type: application/json; charset=utf-8\r\n${securityHeaders}Connection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}

/** Whether the server has begun answering the request in flight on this socket (Node keeps it as the socket's `_httpMessage`). */
function answerStarted(socket: Socket): boolean {
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  return inFlight?.headersSent === true;
}

/**
 * application/json bodies: refused beyond MAX_JSON_BODY_DEPTH by a scan of the text before the
 * parse, so nothing recursive (validation, hashing) ever sees a deeper value; then Fastify's own
 * parser (with its prototype-poisoning protection).
 */
export function parseJsonWithDepthLimit(instance: FastifyInstance): void {
  const parseJson = instance.getDefaultJsonParser('error', 'error');
  instance.removeContentTypeParser('application/json');
  instance.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      checkJsonTextDepth('body', body as string, MAX_JSON_BODY_DEPTH);
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    void parseJson(request, body as string, done);
  });
}
