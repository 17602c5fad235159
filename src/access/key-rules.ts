import { SCOPES, Scope } from './principal';

/** A team's name: it appears in logs and in every object of the team, so it is kept plain. */
export const TEAM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,99}$/;
export const TEAM_RULE = '1-100 characters of a-z, 0-9, _ and -, starting with a letter or digit';
export const KEY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;
export const KEY_NAME_RULE = '1-100 characters of letters, digits, space, ., _ and -, starting with a letter or digit';

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
