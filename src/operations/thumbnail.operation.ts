import { Injectable } from '@nestjs/common';
import sharp from 'sharp';
import { FITTED_IMAGE, FittedImage, largestBox, openImage } from './content/images';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, completed, failed } from './operation';
import { DEFAULT_THUMBNAIL_SIZES, readOptions } from './operation-options';
import { ProgressThrottle } from './progress-throttle';
import type { ValidateResult } from './validate.operation';

export interface Thumbnail {
  /** The box asked for, `<width>x<height>`. */
  size: string;
  /** The thumbnail's own size: the image fitted inside the box, never enlarged. */
  width: number;
  height: number;
  bytes: number;
  s3_url: string;
  url: string;
  expires_at: string;
}

/**
 * Thumbnails of an image (seed 003): fitted inside each box (100x100, 300x300, 1200x1200 unless
 * `options.thumbnail.sizes` lists others), never enlarged, auto-oriented, as WebP at
 * `<identifier>/thumbnail/<w>x<h>.webp`.
 */
@Operation()
@Injectable()
export class ThumbnailOperation implements ProcessingOperation {
  readonly name = 'thumbnail';

  async run(context: OperationContext): Promise<OperationOutcome> {
    const validation = await context.readResult<ValidateResult>('validate');
    if (validation.kind !== 'image') {
      return failed(`thumbnail requires an image; content is ${validation.content_type}`);
    }
    const sizes = readOptions(context.object.options).thumbnail?.sizes ?? DEFAULT_THUMBNAIL_SIZES;
    // Each thumbnail takes a fraction of a second: a row update per thumbnail would cost more than it tells.
    const progress = new ProgressThrottle(context);
    const written: { size: string; width: number; height: number; bytes: number; key: string; s3_url: string }[] = [];
    // The image is decoded once, into the largest thumbnail; the smaller ones are resized from that
    // rather than decoding the source again for each. In the job that validated the image, validate's
    // decode already made those pixels; otherwise (a later delivery) it is decoded here.
    const box = largestBox(sizes, validation.image?.oriented_width, validation.image?.oriented_height);
    const handed = await context.sharedInJob<Omit<FittedImage, 'data'>>(FITTED_IMAGE);
    const largest =
      handed && handed.about.box[0] === box[0] && handed.about.box[1] === box[1]
        ? { ...handed.about, data: handed.bytes }
        : await largestThumbnail((await context.contentFile()).path, box);
    // Each thumbnail is stored while the next one is encoded; the stores still finish in size order.
    let storing: Promise<void> = Promise.resolve();
    for (const [width, height] of sizes) {
      context.signal.throwIfAborted();
      const { data, info } = await sharp(largest.data, { raw: largest.info })
        .resize(width, height, { fit: 'inside', withoutEnlargement: true })
        .webp()
        .toBuffer({ resolveWithObject: true });
      await storing;
      storing = context.writeFile(`${width}x${height}.webp`, data, 'image/webp').then((file) => {
        written.push({
          size: `${width}x${height}`,
          width: info.width,
          height: info.height,
          bytes: file.size,
          key: file.key,
          s3_url: file.s3Url,
        });
      });
      // Awaited at the next size or after the loop; until then a failure must not count as unhandled.
      storing.catch(() => undefined);
      await progress.report(`Made ${written.length + 1} of ${sizes.length} thumbnails`);
    }
    await storing;
    const links = new Map((await context.listArtifacts()).map((artifact) => [artifact.key, artifact]));
    const thumbnails: Thumbnail[] = written.map(({ key, ...thumbnail }) => ({
      ...thumbnail,
      url: links.get(key)?.url ?? '',
      expires_at: links.get(key)?.expires_at ?? '',
    }));
    return completed({
      source: { content_type: validation.content_type, width: validation.image?.oriented_width, height: validation.image?.oriented_height },
      thumbnails,
      by_size: Object.fromEntries(thumbnails.map((thumbnail) => [thumbnail.size, thumbnail.s3_url])),
    });
  }
}

/**
 * The image auto-oriented and fitted inside `box` (never enlarged), as 8-bit sRGB pixels; sharp
 * shrinks JPEG and WebP on load.
 */
async function largestThumbnail(path: string, box: readonly [number, number]): Promise<FittedImage> {
  const [width, height] = box;
  const { data, info } = await openImage(path)
    .autoOrient()
    .resize(width, height, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { box, data, info: { width: info.width, height: info.height, channels: info.channels } };
}
