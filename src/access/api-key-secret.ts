import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * An API key as clients hold it: `opsk_`, the key's id (32 hex digits), `_`, and 32 random bytes in
 * base64url. The prefix makes a leaked key recognisable to secret scanners; the id finds its row
 * without comparing against every stored hash.
 */
const KEY_FORMAT = /^opsk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export interface IssuedKey {
  /** The whole key, shown once. */
  key: string;
  secretHash: string;
}

export function issueKey(id: string): IssuedKey {
  const secret = randomBytes(32).toString('base64url');
  return { key: `opsk_${id.replaceAll('-', '')}_${secret}`, secretHash: hashSecret(secret) };
}

/** The key's id and secret, or null when the text cannot be a key. */
export function parseKey(text: string): { id: string; secret: string } | null {
  const match = KEY_FORMAT.exec(text);
  if (!match?.[1] || !match[2]) {
    return null;
  }
  const hex = match[1];
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { id, secret: match[2] };
}

/** SHA-256 is enough: the secret is 256 random bits, not a password that could be guessed from a dictionary. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  return timingSafeEqual(Buffer.from(hashSecret(secret), 'hex'), Buffer.from(storedHash, 'hex'));
}
