import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { errorCodes, type FastifyReply } from 'fastify';
import { DomainError } from './domain-errors';
import { ErrorCode } from './error-codes';
import { isDependencyFailure } from './dependency-failure';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: string;
  details?: unknown;
}

const FASTIFY_ERROR_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.MalformedJson,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.MalformedJson,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.PayloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UnsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.ValidationFailed,
  // @fastify/multipart (its errors keep their code; uploads convert them to domain errors first, this is the fallback)
  FST_REQ_FILE_TOO_LARGE: ErrorCode.PayloadTooLarge,
  FST_PARTS_LIMIT: ErrorCode.PayloadTooLarge,
  FST_FILES_LIMIT: ErrorCode.PayloadTooLarge,
  FST_FIELDS_LIMIT: ErrorCode.PayloadTooLarge,
  FST_INVALID_MULTIPART_CONTENT_TYPE: ErrorCode.UnsupportedMediaType,
};

// Nest rethrows Fastify's own errors as HttpException(message, status) without their code, so they are recognised by message.
const FASTIFY_ERROR_CODES_BY_MESSAGE = new Map(
  Object.entries(FASTIFY_ERROR_CODES)
    .filter(([fastifyCode]) => fastifyCode in errorCodes)
    .map(([fastifyCode, code]) => [new errorCodes[fastifyCode as keyof typeof errorCodes]().message, code]),
);

const CODE_BY_STATUS: Partial<Record<number, ErrorCode>> = {
  [HttpStatus.BAD_REQUEST]: ErrorCode.ValidationFailed,
  [HttpStatus.NOT_FOUND]: ErrorCode.RouteNotFound,
  [HttpStatus.PAYLOAD_TOO_LARGE]: ErrorCode.PayloadTooLarge,
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: ErrorCode.UnsupportedMediaType,
  [HttpStatus.TOO_MANY_REQUESTS]: ErrorCode.RateLimited,
  [HttpStatus.SERVICE_UNAVAILABLE]: ErrorCode.DependencyUnavailable,
};

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The one error shape of the API: every failure leaves as {statusCode, error, message, code, details?}. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const body = this.toErrorBody(exception);
    const internal: number = HttpStatus.INTERNAL_SERVER_ERROR;
    if (body.statusCode === internal) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    } else if (body.statusCode > internal) {
      this.logger.warn(body.message);
    }
    if (reply.sent || reply.raw.headersSent) {
      return;
    }
    if (exception instanceof DomainError) {
      void reply.headers(exception.headers);
    }
    void reply.status(body.statusCode).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  toErrorBody(exception: unknown): ErrorBody {
    if (exception instanceof DomainError) {
      return errorBody(exception.status, exception.code, exception.message, exception.details);
    }
    if (exception instanceof HttpException) {
      return fromHttpException(exception);
    }
    const fastifyError = exception as { statusCode?: number; code?: string; message?: string };
    if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      const code = FASTIFY_ERROR_CODES[fastifyError.code ?? ''] ?? CODE_BY_STATUS[fastifyError.statusCode] ?? ErrorCode.ValidationFailed;
      return errorBody(fastifyError.statusCode, code, fastifyError.message ?? 'Bad request');
    }
    if (isDependencyFailure(exception)) {
      return errorBody(
        HttpStatus.SERVICE_UNAVAILABLE,
        ErrorCode.DependencyUnavailable,
        'A backing service is unavailable; try again shortly',
      );
    }
    return errorBody(HttpStatus.INTERNAL_SERVER_ERROR, ErrorCode.InternalError, 'Internal server error');
  }
}

function fromHttpException(exception: HttpException): ErrorBody {
  const status = exception.getStatus();
  const response = exception.getResponse();
  const code = FASTIFY_ERROR_CODES_BY_MESSAGE.get(exception.message) ?? CODE_BY_STATUS[status] ?? ErrorCode.ValidationFailed;
  if (typeof response === 'object' && response !== null && Array.isArray((response as { message?: unknown }).message)) {
    const problems = (response as { message: string[] }).message;
    return errorBody(status, code, problems.join('; '), problems);
  }
  return errorBody(status, code, exception.message);
}

export function errorBody(statusCode: number, code: string, message: string, details?: unknown): ErrorBody {
  const body: ErrorBody = { statusCode, error: REASON_PHRASES[statusCode] ?? 'Error', message, code };
  if (details !== undefined) {
    body.details = details;
  }
  return body;
}
