/**
 * The content itself is invalid (malformed, too large, not what the operation needs). It is
 * deterministic: retrying cannot help, so operations turn it into a failed outcome.
 */
export class ContentError extends Error {}
