/**
 * Limits that keep the work on content linear and its memory bounded whatever the content holds.
 * Content beyond MAX_NESTING_DEPTH fails validate; the others cap what is summarised, and results say so.
 */

/** How deep JSON (and NDJSON records) may nest: every walk over records (JSON.stringify among them) recurses this deep at most. */
export const MAX_NESTING_DEPTH = 256;

/** How many distinct field names the schema and the statistics follow; the rest are reported as untracked. */
export const MAX_FIELDS = 1000;

/** How many distinct values the statistics of all fields together count exactly. */
export const MAX_TRACKED_VALUES = 100_000;

/** Values and terms are counted by their first this many characters. */
export const MAX_VALUE_CHARACTERS = 256;

/** What a summary reports when the records had more distinct fields than MAX_FIELDS: only the first MAX_FIELDS are in it. */
export interface FieldsTruncated {
  field_limit: number;
}
