import { HttpStatus } from '@nestjs/common';
import { ErrorCode } from './error-codes';

/** An error a client can act on; the exception filter turns it into the one error shape. */
export class DomainError extends Error {
  constructor(
    readonly status: HttpStatus,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Response headers the answer needs (WWW-Authenticate, Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ObjectNotFoundError extends DomainError {
  constructor(reference: string) {
    super(HttpStatus.NOT_FOUND, ErrorCode.ObjectNotFound, `Object ${reference} not found`);
  }
}

export class InvalidTransitionError extends DomainError {
  constructor(
    readonly from: string,
    readonly to: string,
    reason?: string,
  ) {
    super(HttpStatus.CONFLICT, ErrorCode.InvalidTransition, reason ?? `Cannot change state from '${from}' to '${to}'`, {
      current_state: from,
      attempted_state: to,
    });
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, details?: unknown, code: ErrorCode = ErrorCode.ValidationFailed) {
    super(HttpStatus.BAD_REQUEST, code, message, details);
  }
}

export class ConflictError extends DomainError {
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(HttpStatus.CONFLICT, code, message, details);
  }
}

export class DependencyUnavailableError extends DomainError {
  constructor(dependency: string, cause?: unknown) {
    super(HttpStatus.SERVICE_UNAVAILABLE, ErrorCode.DependencyUnavailable, `${dependency} is unavailable; try again shortly`);
    this.cause = cause;
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(message: string, details?: unknown) {
    super(HttpStatus.PAYLOAD_TOO_LARGE, ErrorCode.PayloadTooLarge, message, details);
  }
}

export class UnsupportedMediaTypeError extends DomainError {
  constructor(message: string, details?: unknown) {
    super(HttpStatus.UNSUPPORTED_MEDIA_TYPE, ErrorCode.UnsupportedMediaType, message, details);
  }
}

/** A client over one of its rate limits; `limit` names which (requests, or submissions). */
export class RateLimitedError extends DomainError {
  constructor(limit: string, max: number, windowMs: number, retryAfterSeconds: number) {
    super(
      HttpStatus.TOO_MANY_REQUESTS,
      ErrorCode.RateLimited,
      `Too many ${limit}: this client may make ${max} per ${windowMs / 1000} s; retry in ${retryAfterSeconds} s`,
      { limit, max, window_ms: windowMs, retry_after_seconds: retryAfterSeconds },
    );
  }
}
