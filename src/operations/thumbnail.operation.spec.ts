import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { FITTED_IMAGE, checkImageFitted } from './content/images';
import type { OperationContext, SharedBytes, WrittenFile } from './operation';
import { DEFAULT_THUMBNAIL_SIZES } from './operation-options';
import { ThumbnailOperation } from './thumbnail.operation';

/** A fake job around thumbnail: validate's result, what validate shared (or nothing), and the files it writes. */
function contextFor(path: string, shared: SharedBytes<unknown> | undefined) {
  const written: { name: string; width: number; height: number }[] = [];
  const contentFiles: string[] = [];
  const context: OperationContext = {
    object: {
      id: 'id-1',
      identifier: 'photo',
      metadata: {},
      options: {},
      source: null,
      createdAt: new Date(),
      plan: ['validate', 'thumbnail'],
    },
    signal: new AbortController().signal,
    openContent: () => Promise.reject(new Error('thumbnail reads the local copy, not a stream')),
    contentFile: () => {
      contentFiles.push(path);
      return Promise.resolve({ path, size: 0, sha256: '' });
    },
    shareInJob: () => Promise.reject(new Error('thumbnail shares nothing')),
    sharedInJob: <T>(key: string) => Promise.resolve(key === FITTED_IMAGE ? (shared as SharedBytes<T> | undefined) : undefined),
    readResult: <T>() =>
      Promise.resolve({ kind: 'image', content_type: 'image/jpeg', image: { oriented_width: 640, oriented_height: 480 } } as T),
    openFile: () => Promise.reject(new Error('unused')),
    copyFile: () => Promise.reject(new Error('unused')),
    writeFile: async (name: string, body: unknown): Promise<WrittenFile> => {
      const { width, height } = await sharp(body as Buffer).metadata();
      written.push({ name, width: width ?? 0, height: height ?? 0 });
      return { key: `photo/thumbnail/${name}`, s3Url: `s3://bucket/photo/thumbnail/${name}`, size: (body as Buffer).length };
    },
    listArtifacts: () => Promise.resolve([]),
    reportProgress: () => Promise.resolve(),
  };
  return { context, written, contentFiles };
}

describe('ThumbnailOperation', () => {
  let directory: string;
  let photo: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'thumbnail-spec-'));
    photo = join(directory, 'photo.jpg');
    await writeFile(
      photo,
      await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 90, g: 140, b: 200 } } })
        .jpeg()
        .toBuffer(),
    );
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  const expected = [
    { name: '100x100.webp', width: 100, height: 75 },
    { name: '300x300.webp', width: 300, height: 225 },
    { name: '1200x1200.webp', width: 640, height: 480 },
  ];

  it("makes the thumbnails from the pixels validate's decode shared, without decoding the image again", async () => {
    const { fitted } = await checkImageFitted(photo, 1_000_000, DEFAULT_THUMBNAIL_SIZES);
    const { context, written, contentFiles } = contextFor(photo, { about: { box: fitted!.box, info: fitted!.info }, bytes: fitted!.data });
    expect((await new ThumbnailOperation().run(context)).status).toBe('completed');
    expect(written).toEqual(expected);
    expect(contentFiles).toEqual([]);
  });

  it('decodes the image itself when nothing was shared (a job delivered again), to the same thumbnails', async () => {
    const { context, written, contentFiles } = contextFor(photo, undefined);
    expect((await new ThumbnailOperation().run(context)).status).toBe('completed');
    expect(written).toEqual(expected);
    expect(contentFiles).toEqual([photo]);
  });
});
