import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from '../common/domain-errors';
import { withTimeout } from '../common/with-timeout';
import { baseContentType } from '../operations/content/content-kind';

/** How many leading bytes decide the type: file-type's sample size. */
export const SNIFF_BYTES = 4100;

export interface UploadType {
  contentType: string;
  /** The extension of the stored source key: `<identifier>/source/upload.<extension>`. */
  extension: string;
}

/** Binary formats recognised by their signature, whatever the client declares. */
const IMAGE_TYPES: Record<string, UploadType> = {
  'image/jpeg': { contentType: 'image/jpeg', extension: 'jpg' },
  'image/png': { contentType: 'image/png', extension: 'png' },
  'image/webp': { contentType: 'image/webp', extension: 'webp' },
  'image/gif': { contentType: 'image/gif', extension: 'gif' },
  'image/avif': { contentType: 'image/avif', extension: 'avif' },
  'image/tiff': { contentType: 'image/tiff', extension: 'tif' },
};

const JSON_TYPE: UploadType = { contentType: 'application/json', extension: 'json' };
const NDJSON_TYPE: UploadType = { contentType: 'application/x-ndjson', extension: 'ndjson' };
const CSV_TYPE: UploadType = { contentType: 'text/csv', extension: 'csv' };
const TEXT_TYPE: UploadType = { contentType: 'text/plain', extension: 'txt' };

/** Text formats, recognised by what the client declares: the part's media type first, then the file name's extension. */
const TEXT_BY_MEDIA_TYPE: Record<string, UploadType> = {
  'application/json': JSON_TYPE,
  'text/json': JSON_TYPE,
  'application/x-ndjson': NDJSON_TYPE,
  'application/ndjson': NDJSON_TYPE,
  'application/jsonl': NDJSON_TYPE,
  'application/x-jsonlines': NDJSON_TYPE,
  'text/csv': CSV_TYPE,
  'application/csv': CSV_TYPE,
  'text/plain': TEXT_TYPE,
};

const TEXT_BY_EXTENSION: Record<string, UploadType> = {
  json: JSON_TYPE,
  ndjson: NDJSON_TYPE,
  jsonl: NDJSON_TYPE,
  csv: CSV_TYPE,
  txt: TEXT_TYPE,
  text: TEXT_TYPE,
};

export const SUPPORTED_UPLOAD_TYPES = [
  ...Object.keys(IMAGE_TYPES),
  JSON_TYPE.contentType,
  NDJSON_TYPE.contentType,
  CSV_TYPE.contentType,
  TEXT_TYPE.contentType,
];

/**
 * Classifies an upload from its first bytes: images by their signature (a JPEG named .csv is a
 * JPEG), text formats by the declared media type or extension once the bytes look like UTF-8
 * text. Only the type is decided here; whether the content is well-formed is the validate
 * operation's job. Anything else is 415.
 */
export async function classifyUpload(prefix: Buffer, declaredType: string | undefined, filename: string | undefined): Promise<UploadType> {
  const detected = await fileTypeFromBuffer(prefix);
  if (detected) {
    const image = IMAGE_TYPES[detected.mime];
    if (image) {
      return image;
    }
    throw unsupported(`${detected.mime} (detected from the content)`);
  }
  const declared = baseContentType(declaredType ?? '');
  const extension = /\.([A-Za-z0-9]+)$/.exec(filename ?? '')?.[1]?.toLowerCase();
  const named = TEXT_BY_MEDIA_TYPE[declared] ?? (extension ? TEXT_BY_EXTENSION[extension] : undefined);
  if (!looksLikeText(prefix)) {
    throw unsupported(named ? `binary content declared as ${declared || `.${extension}`}` : `${declared || 'unknown'} binary content`);
  }
  if (named) {
    return named;
  }
  if (declared === '' || declared === 'application/octet-stream') {
    return TEXT_TYPE;
  }
  throw unsupported(declared);
}

function unsupported(what: string): UnsupportedMediaTypeError {
  return new UnsupportedMediaTypeError(`Unsupported content type: ${what}. Supported: ${SUPPORTED_UPLOAD_TYPES.join(', ')}`, {
    supported: SUPPORTED_UPLOAD_TYPES,
  });
}

/** UTF-8 without NUL or other control characters (tab, CR, LF and form feed aside); a sequence cut at the end of the prefix is fine. */
function looksLikeText(prefix: Buffer): boolean {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(prefix, { stream: true });
    return !/[\x00-\x08\x0B\x0E-\x1F\x7F]/.test(text);
  } catch {
    // Not valid UTF-8, so not text.
    return false;
  }
}

/** A file part as the multipart parser hands it over: a byte stream that may stop early at the size limit. */
export interface IncomingFile {
  filename?: string;
  mimetype?: string;
  stream: Readable & { truncated?: boolean };
  limitBytes: number;
}

/**
 * An upload being streamed: its type, decided from the first bytes, and a body that replays
 * those bytes then the rest, hashing and counting as it goes. The body fails with 413 as soon
 * as the parser reports the size limit, so a streaming S3 upload of it fails (and aborts).
 */
export class ClassifiedUpload {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private finished = false;
  private digested?: { size: number; sha256: string };
  private limitHit = false;
  private wakeOnLimit?: () => void;

  private constructor(
    readonly type: UploadType,
    readonly filename: string | undefined,
    private readonly prefix: Buffer[],
    private readonly source: AsyncIterator<Buffer>,
    private readonly file: IncomingFile,
  ) {
    file.stream.once('limit', () => {
      this.limitHit = true;
      this.wakeOnLimit?.();
    });
  }

  /** Reads the first bytes (at most SNIFF_BYTES held) and classifies them; 413 or 415 before any byte is stored. */
  static async open(file: IncomingFile): Promise<ClassifiedUpload> {
    const source = file.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const prefix: Buffer[] = [];
    let length = 0;
    while (length < SNIFF_BYTES) {
      const next = await source.next();
      if (next.done) {
        break;
      }
      prefix.push(next.value);
      length += next.value.length;
    }
    if (file.stream.truncated) {
      throw tooLarge(file.limitBytes);
    }
    const head = Buffer.concat(prefix);
    const type = await classifyUpload(head.subarray(0, SNIFF_BYTES), file.mimetype, file.filename);
    return new ClassifiedUpload(type, file.filename, prefix, source, file);
  }

  /** The content: the sniffed prefix, then the rest of the part. Read it once. */
  body(): Readable {
    const generate = async function* (this: ClassifiedUpload): AsyncGenerator<Buffer> {
      for (const chunk of this.prefix.splice(0)) {
        yield this.count(chunk);
      }
      for (;;) {
        const next = await this.nextChunkOrLimit();
        if (next === 'limit' || this.file.stream.truncated) {
          throw tooLarge(this.file.limitBytes);
        }
        if (next.done) {
          break;
        }
        yield this.count(next.value);
      }
      this.finished = true;
    };
    return Readable.from(generate.call(this), { objectMode: false });
  }

  /**
   * The next chunk, or 'limit' as soon as the parser reports the size limit (it would otherwise
   * wait for the end of the part). A fresh promise per chunk: racing one long-lived promise would
   * keep every chunk reachable from it, the whole file in memory.
   */
  private nextChunkOrLimit(): Promise<IteratorResult<Buffer> | 'limit'> {
    return new Promise((resolve, reject) => {
      if (this.limitHit) {
        resolve('limit');
        return;
      }
      this.wakeOnLimit = () => resolve('limit');
      this.source.next().then(resolve, reject);
    }).finally(() => (this.wakeOnLimit = undefined)) as Promise<IteratorResult<Buffer> | 'limit'>;
  }

  /** Size and SHA-256 of everything the body produced; only once it has been read to the end. */
  digest(): { size: number; sha256: string } {
    if (!this.finished) {
      throw new Error('The upload has not been read to the end');
    }
    this.digested ??= { size: this.bytes, sha256: this.hash.digest('hex') };
    return this.digested;
  }

  /** Size and SHA-256 of the whole file: read to its end here (without storing) unless it already has been. */
  async contentDigest(): Promise<{ size: number; sha256: string }> {
    return this.finished ? this.digest() : this.consume();
  }

  /** Reads the whole body without storing it, for its size and SHA-256 (an Idempotency-Key replay). */
  async consume(): Promise<{ size: number; sha256: string }> {
    for await (const chunk of this.body()) {
      void chunk;
    }
    return this.digest();
  }

  /**
   * Reads and discards what the client is still sending of this part (after a refusal), so the
   * answer goes out after the request is consumed; gives up after `timeoutMs`. True when drained.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    return drainFile(this.source, timeoutMs);
  }

  private count(chunk: Buffer): Buffer {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    return chunk;
  }
}

export async function drainFile(source: AsyncIterator<unknown> | Readable, timeoutMs: number): Promise<boolean> {
  const iterator = source instanceof Readable ? (source[Symbol.asyncIterator]() as AsyncIterator<unknown>) : source;
  const drained = (async () => {
    try {
      while (!(await iterator.next()).done) {
        // discard
      }
    } catch {
      // the part ended badly; nothing more will come
    }
    return true;
  })();
  return withTimeout(drained, timeoutMs, () => false);
}

function tooLarge(limitBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`The file is larger than the upload limit of ${limitBytes} bytes`, { limit_bytes: limitBytes });
}
