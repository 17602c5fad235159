import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp, { type Metadata } from 'sharp';
import { ContentError } from './content-error';
import { MeasuringStream } from './measure';

/** Images are decoded from a local temporary copy, so libvips reads them from disk rather than from memory. */
export async function withLocalCopy<T>(
  stream: Readable,
  work: (path: string, measured: MeasuringStream) => Promise<T>,
  signal?: AbortSignal,
  limit = Infinity,
): Promise<T> {
  const directory = await mkdtemp(join(tmpdir(), 'ops-image-'));
  const path = join(directory, 'content');
  try {
    const measured = new MeasuringStream(limit);
    await pipeline(stream, measured, createWriteStream(path), { signal });
    return await work(path, measured);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** An image that validate has already admitted within the pixel limit (IMAGE_MAX_PIXELS). */
export function openImage(path: string): sharp.Sharp {
  return sharp(path, { limitInputPixels: false, failOn: 'warning' });
}

/** The header of an image; not an image or an unreadable header is a ContentError. */
export async function imageMetadata(path: string): Promise<Metadata> {
  try {
    return await sharp(path, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ContentError(`image is corrupt: ${(error as Error).message}`);
  }
}

/**
 * Proves an image is decodable within `maxPixels` (width x height of one frame): reads its
 * header, refuses one that declares more (a decompression bomb is never decoded), then decodes
 * every pixel once. The limit bounds the memory and time every later decode needs.
 */
export async function checkImage(path: string, maxPixels: number): Promise<Metadata> {
  const metadata = await imageMetadata(path);
  const pixels = (metadata.width ?? 0) * (metadata.height ?? 0);
  if (pixels > maxPixels) {
    throw new ContentError(`image exceeds ${maxPixels} pixels: it is ${metadata.width}x${metadata.height}`);
  }
  try {
    await sharp(path, { limitInputPixels: maxPixels, failOn: 'warning' }).stats();
  } catch (error) {
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new ContentError(`image exceeds ${maxPixels} pixels`);
    }
    throw new ContentError(`image is corrupt: ${message}`);
  }
  return metadata;
}

/** The media type of a sharp format name. */
export function imageContentType(format: string | undefined, compression?: string): string | undefined {
  if (format === 'heif') {
    return compression === 'av1' ? 'image/avif' : 'image/heif';
  }
  return format && ['jpeg', 'png', 'webp', 'gif', 'tiff'].includes(format) ? `image/${format}` : undefined;
}

/** Width and height after EXIF auto-orientation (orientations 5-8 swap them). */
export function orientedSize(metadata: Metadata): { width: number; height: number } {
  const width = metadata.width ?? 0;
  const height = metadata.height ?? 0;
  return (metadata.orientation ?? 1) >= 5 ? { width: height, height: width } : { width, height };
}
