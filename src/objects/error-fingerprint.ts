import { createHash } from 'node:crypto';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const NUMBER = /\d+(\.\d+)?/g;

/**
 * A stable name for the cause of a failure, the same for every object that failed the same way:
 * its error code and its message with ids and numbers (positions, sizes, attempts, durations)
 * taken out, hashed to 16 hex digits.
 */
export function errorFingerprint(code: string | null, message: string): string {
  const shape = message.replace(UUID, '<id>').replace(NUMBER, '<n>');
  return createHash('sha256')
    .update(`${code ?? ''}\n${shape}`)
    .digest('hex')
    .slice(0, 16);
}
