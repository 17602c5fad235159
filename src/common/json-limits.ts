import { ValidationError } from './domain-errors';
import { ErrorCode } from './error-codes';
import { TextPosition, deepNestingIn } from './json-nesting';

/**
 * How deep `metadata`, `options` and `payload` may nest (arrays and objects; a flat object is 1).
 * A JSON request body wraps them in one more object, so the body itself may nest one level more.
 * Everything that walks a submitted value (validation, hashing, storage) stays within this depth.
 */
export const MAX_JSON_DEPTH = 64;
export const MAX_JSON_BODY_DEPTH = MAX_JSON_DEPTH + 1;

export class JsonTooDeepError extends ValidationError {
  constructor(field: string, limit: number, where?: TextPosition) {
    const at = where ? ` (at line ${where.line}, column ${where.column})` : '';
    super(
      `${field} nests deeper than ${limit} levels${at}`,
      [{ field, message: `nests deeper than ${limit} levels${at}`, limit, ...where }],
      ErrorCode.JsonTooDeep,
    );
  }
}

/**
 * Refuses JSON text nesting deeper than `limit`, found in one pass over the characters (no
 * parse, no recursion), so it runs before anything that walks the parsed value.
 */
export function checkJsonTextDepth(field: string, text: string, limit: number): void {
  const where = deepNestingIn(text, limit);
  if (where) {
    throw new JsonTooDeepError(field, limit, where);
  }
}

// U+0000, or half of a surrogate pair without its other half: valid in JSON text, refused by PostgreSQL (jsonb and text).
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function hasUnstorableCharacter(text: string): boolean {
  return UNSTORABLE.test(text);
}

export class UnstorableCharacterError extends ValidationError {
  constructor(field: string) {
    super(
      `${field} contains U+0000 or an unpaired surrogate, which cannot be stored`,
      [{ field, message: 'contains U+0000 or an unpaired surrogate' }],
      ErrorCode.UnstorableCharacter,
    );
  }
}

interface Visit {
  value: unknown;
  depth: number;
  key?: string;
  parent?: Visit;
}

/** The dotted path of a visited value, built only when it is needed for an error. */
function pathOf(visit: Visit, root: string): string {
  const keys: string[] = [];
  for (let at: Visit | undefined = visit; at?.key !== undefined; at = at.parent) {
    keys.push(at.key);
  }
  return [root, ...keys.reverse()].join('.');
}

/**
 * Checks a parsed JSON value without recursion: no deeper than `maxDepth`, no string or key with
 * a character PostgreSQL cannot store. Throws naming the first offending field (a dotted path).
 */
export function checkJsonValue(field: string, value: unknown, maxDepth = MAX_JSON_DEPTH): void {
  const pending: Visit[] = [{ value, depth: 0 }];
  for (let visit = pending.pop(); visit; visit = pending.pop()) {
    if (typeof visit.value === 'string') {
      if (hasUnstorableCharacter(visit.value)) {
        throw new UnstorableCharacterError(pathOf(visit, field));
      }
      continue;
    }
    if (visit.value === null || typeof visit.value !== 'object') {
      continue;
    }
    const depth = visit.depth + 1;
    if (depth > maxDepth) {
      throw new JsonTooDeepError(field, maxDepth);
    }
    for (const [key, child] of Object.entries(visit.value)) {
      if (hasUnstorableCharacter(key)) {
        throw new UnstorableCharacterError(`${pathOf(visit, field)} (a key)`);
      }
      pending.push({ value: child, depth, key, parent: visit });
    }
  }
}
