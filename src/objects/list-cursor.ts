import { ValidationError } from '../common/domain-errors';

export interface ListPosition {
  createdAt: Date;
  id: string;
}

/** Opaque keyset cursor: the (created_at, id) of the last object of a page. */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt.toISOString(), position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): ListPosition {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(createdAt);
    if (Number.isNaN(date.getTime()) || typeof id !== 'string' || !/^[0-9a-f-]{36}$/i.test(id)) {
      throw new Error('bad cursor');
    }
    return { createdAt: date, id };
  } catch {
    throw new ValidationError('cursor is not a cursor returned by this endpoint', [{ field: 'cursor', message: 'invalid cursor' }]);
  }
}
