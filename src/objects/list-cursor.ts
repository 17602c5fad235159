import { ValidationError } from '../common/domain-errors';

/** Where a page ended: created_at as PostgreSQL stores it (UTC, to the microsecond) and the id. */
export interface ListPosition {
  createdAt: string;
  id: string;
}

// What the list query writes (6 fractional digits); cursors made before it carry 3.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Opaque keyset cursor: the (created_at, id) of the last object of a page. */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

/** The position a cursor holds; anything this endpoint did not make is a 400, never a query PostgreSQL refuses. */
export function decodeCursor(cursor: string): ListPosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) {
    throw invalidCursor();
  }
  const [createdAt, id] = decoded as unknown[];
  if (typeof createdAt !== 'string' || typeof id !== 'string' || !isStorableTimestamp(createdAt) || !UUID.test(id)) {
    throw invalidCursor();
  }
  return { createdAt, id };
}

/** A UTC timestamp of years 1 to 9999 whose fields name a real instant (no 30 February, no hour 24). */
function isStorableTimestamp(text: string): boolean {
  const match = TIMESTAMP.exec(text);
  if (!match) {
    return false;
  }
  const [year = NaN, month = NaN, day = NaN, hour = NaN, minute = NaN, second = NaN] = match.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year);
  return (
    year >= 1 &&
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second
  );
}

// PostgreSQL's timestamptz and the driver's ISO text both hold years 1 to 9999 only.
const EARLIEST = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/** A created_after / created_before value (already ISO 8601) as an instant PostgreSQL can compare with; a 400 naming the field otherwise. */
export function listInstant(field: string, text: string): Date {
  const instant = new Date(text);
  if (!(instant.getTime() >= EARLIEST && instant.getTime() <= LATEST)) {
    throw new ValidationError(`${field} must be between 0001-01-01 and 9999-12-31 (UTC)`, [{ field, message: 'out of range' }]);
  }
  return instant;
}

function invalidCursor(): ValidationError {
  return new ValidationError('cursor is not a cursor returned by this endpoint', [{ field: 'cursor', message: 'invalid cursor' }]);
}
