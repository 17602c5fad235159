import { createHash } from 'node:crypto';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { ContentError } from './content-error';

/** Passes bytes through, hashing and counting them, and refuses content beyond `limit` bytes. */
export class MeasuringStream extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  private digest?: string;

  constructor(private readonly limit = Infinity) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      callback(new ContentError(`Content is too large: it exceeds ${this.limit} bytes`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  get sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }
}

/** The first `bytes` bytes of a stream (fewer if it is shorter); the rest is not read. */
export async function readHead(stream: Readable, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= bytes) {
        break;
      }
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, bytes);
}
