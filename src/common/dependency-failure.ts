const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/** True for errors that mean PostgreSQL, Redis or S3 could not be reached, as opposed to a bug. */
export function isDependencyFailure(error: unknown): boolean {
  for (let current = error as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; current && depth < 5; depth++) {
    if (typeof current.code === 'string' && NETWORK_ERROR_CODES.has(current.code)) {
      return true;
    }
    if (current.name === 'ConnectionException' || current.name === 'MaxRetriesPerRequestError' || current.name === 'TimeoutError') {
      return true;
    }
    if (typeof current.message === 'string' && /Connection is closed|Stream isn't writeable|connect ECONNREFUSED/.test(current.message)) {
      return true;
    }
    current = current.cause as typeof current;
  }
  return false;
}
