import { open } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { ContentError } from './content-error';

/** The first `bytes` bytes of a file (fewer if it is shorter). */
export async function fileHead(path: string, bytes: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await file.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
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

/** checkImage keeps every this-many-th pixel of each side of the decoded image, then throws it away. */
const CHECK_SUBSAMPLE = 8;

/**
 * Proves an image is decodable within `maxPixels` (width x height of one frame): reads its
 * header, refuses one that declares more (a decompression bomb is never decoded), then decodes
 * every pixel once. The limit bounds the memory and time every later decode needs.
 */
export async function checkImage(path: string, maxPixels: number): Promise<Metadata> {
  const { metadata, width, height } = await admitImage(path, maxPixels);
  try {
    // A full-resolution decode into a cheap sink: extracting the whole frame first stops sharp from
    // decoding JPEG and WebP at a reduced scale (shrink-on-load), and the subsampled output keeps
    // the memory small. stats() decoded just as completely but also computed entropy and sharpness
    // over every pixel, which cost about three times the decode itself and nothing used.
    await sharp(path, { limitInputPixels: maxPixels, failOn: 'warning' })
      .extract({ left: 0, top: 0, width, height })
      .resize(Math.max(1, Math.round(width / CHECK_SUBSAMPLE)), Math.max(1, Math.round(height / CHECK_SUBSAMPLE)), {
        fit: 'fill',
        kernel: 'nearest',
      })
      .raw()
      .toBuffer();
  } catch (error) {
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new ContentError(`image exceeds ${maxPixels} pixels`);
    }
    throw new ContentError(`image is corrupt: ${message}`);
  }
  return metadata;
}

/** Decoded pixels of an image: auto-oriented, 8-bit sRGB, fitted inside `box` (never enlarged). */
export interface FittedImage {
  box: readonly [number, number];
  data: Buffer;
  info: { width: number; height: number; channels: 1 | 2 | 3 | 4 };
}

/** The key under which validate hands a FittedImage to the thumbnail operation of the same job. */
export const FITTED_IMAGE = 'image:fitted';

/** Fitted pixels are handed on only up to this size; larger ones are made again by whoever needs them. */
const FITTED_MAX_BYTES = 16 * 1024 * 1024;

/**
 * checkImage, with the same full-resolution decode also fitted inside the largest box of `sizes`
 * (the thumbnails'): one decode proves the image and gives the thumbnails their pixels, rather than
 * a second decode. Whenever that pipeline fails, checkImage alone decides (and says why), so
 * validation is unchanged.
 */
export async function checkImageFitted(
  path: string,
  maxPixels: number,
  sizes: readonly (readonly [number, number])[],
): Promise<{ metadata: Metadata; fitted?: FittedImage }> {
  const { metadata, width, height } = await admitImage(path, maxPixels);
  const oriented = orientedSize(metadata);
  const box = largestBox(sizes, oriented.width, oriented.height);
  const scale = Math.min(1, box[0] / Math.max(1, oriented.width), box[1] / Math.max(1, oriented.height));
  if (oriented.width * oriented.height * scale * scale * 4 <= FITTED_MAX_BYTES) {
    try {
      const { data, info } = await sharp(path, { limitInputPixels: maxPixels, failOn: 'warning' })
        .extract({ left: 0, top: 0, width, height })
        .autoOrient()
        .resize(box[0], box[1], { fit: 'inside', withoutEnlargement: true })
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      return { metadata, fitted: { box, data, info: { width: info.width, height: info.height, channels: info.channels } } };
    } catch {
      // checkImage below decides.
    }
  }
  return { metadata: await checkImage(path, maxPixels) };
}

/** The box of `sizes` that keeps the most of an image of this (oriented) size: every other box's thumbnail fits inside its thumbnail. */
export function largestBox(sizes: readonly (readonly [number, number])[], width?: number, height?: number): readonly [number, number] {
  const scale = ([boxWidth, boxHeight]: readonly [number, number]) =>
    width && height ? Math.min(boxWidth / width, boxHeight / height) : boxWidth * boxHeight;
  return sizes.reduce((best, size) => (scale(size) > scale(best) ? size : best));
}

/** The header of an image admitted within the pixel limit (a decompression bomb is never decoded), and the size of its first frame. */
async function admitImage(path: string, maxPixels: number): Promise<{ metadata: Metadata; width: number; height: number }> {
  const metadata = await imageMetadata(path);
  const pixels = (metadata.width ?? 0) * (metadata.height ?? 0);
  if (pixels > maxPixels) {
    throw new ContentError(`image exceeds ${maxPixels} pixels: it is ${metadata.width}x${metadata.height}`);
  }
  // The first frame, which is what sharp decodes unless asked for more.
  return { metadata, width: metadata.width ?? 0, height: metadata.pageHeight ?? metadata.height ?? 0 };
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
