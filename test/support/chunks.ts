import { Readable } from 'node:stream';

/** `bytes` cut at the given offsets (out-of-range and repeated ones ignored). */
export function cutAt(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = [...new Set(offsets.filter((offset) => offset > 0 && offset < bytes.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  return chunks;
}

/** `bytes` in chunks of `size` bytes (the last one shorter); one chunk when size is Infinity. */
export function chunksOf(bytes: Buffer, size: number): Buffer[] {
  if (!Number.isFinite(size)) {
    return [bytes];
  }
  const chunks: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += size) {
    chunks.push(bytes.subarray(start, start + size));
  }
  return chunks;
}

/** A byte stream delivering exactly these chunks. */
export function streamOf(chunks: readonly Buffer[]): Readable {
  return Readable.from(chunks, { objectMode: false });
}
