const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ECONNABORTED',
]);
/** PostgreSQL shutting down, restarting or starting up: admin_shutdown, crash_shutdown, cannot_connect_now. */
const POSTGRES_UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03']);
const UNREACHABLE_MESSAGES = /Connection is closed|Connection terminated|Stream isn't writeable|connect ECONNREFUSED|socket hang up/;

interface ErrorLike {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/**
 * True for errors that mean PostgreSQL, Redis or S3 could not be reached or could not serve (S3
 * answering 5xx), as opposed to a bug or bad input: the whole service waits for them to return.
 */
export function isDependencyFailure(error: unknown): boolean {
  for (let current = error as ErrorLike | undefined, depth = 0; current && depth < 5; depth++) {
    if (typeof current.code === 'string' && (NETWORK_ERROR_CODES.has(current.code) || POSTGRES_UNAVAILABLE_CODES.has(current.code))) {
      return true;
    }
    if (current.name === 'ConnectionException' || current.name === 'MaxRetriesPerRequestError' || current.name === 'TimeoutError') {
      return true;
    }
    if ((current.$metadata?.httpStatusCode ?? 0) >= 500) {
      return true;
    }
    if (typeof current.message === 'string' && UNREACHABLE_MESSAGES.test(current.message)) {
      return true;
    }
    current = current.cause as ErrorLike | undefined;
  }
  return false;
}
