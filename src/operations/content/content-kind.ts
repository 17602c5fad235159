/** What an operation does with content depends on its kind, not on the exact media type. */
export type ContentKind = 'json' | 'ndjson' | 'csv' | 'text' | 'image';

/** Kinds whose canonical form is NDJSON records. */
export const RECORD_KINDS: readonly ContentKind[] = ['json', 'ndjson', 'csv'];

export const IMAGE_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/tiff'] as const;

const KIND_OF: Record<string, ContentKind> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'text/csv': 'csv',
  'text/plain': 'text',
  ...Object.fromEntries(IMAGE_CONTENT_TYPES.map((type) => [type, 'image' as const])),
};

/** The media type without parameters, lower case: `Text/CSV; charset=utf-8` is `text/csv`. */
export function baseContentType(contentType: string): string {
  return (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
}

/** The kind of a content type, or undefined for a type the service does not process. */
export function contentKindOf(contentType: string): ContentKind | undefined {
  return KIND_OF[baseContentType(contentType)];
}

export function isRecordKind(kind: ContentKind): boolean {
  return RECORD_KINDS.includes(kind);
}

export function supportedContentTypes(): string[] {
  return Object.keys(KIND_OF);
}
