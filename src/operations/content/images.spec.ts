import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ContentError } from './content-error';
import { checkImage, checkImageFitted } from './images';

const WIDTH = 640;
const HEIGHT = 480;

/** Two flat halves: a small JPEG whose scan data is easy to damage. */
const twoHalves = () =>
  sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: { r: 90, g: 140, b: 200 } } })
    .composite([
      { input: { create: { width: WIDTH / 2, height: HEIGHT, channels: 3, background: { r: 220, g: 60, b: 30 } } }, left: 0, top: 0 },
    ])
    .jpeg({ quality: 90 })
    .toBuffer();

describe('checkImage', () => {
  let directory: string;
  const file = async (name: string, bytes: Buffer) => {
    const path = join(directory, name);
    await writeFile(path, bytes);
    return path;
  };

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'images-spec-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('admits a sound image and returns its header', async () => {
    const metadata = await checkImage(await file('sound.jpg', await twoHalves()), 1_000_000);
    expect(metadata).toMatchObject({ format: 'jpeg', width: WIDTH, height: HEIGHT });
  });

  it('decodes at full resolution: damaged scan data that a 1/8-scale (shrink-on-load) decode gets through is corrupt', async () => {
    const bytes = await twoHalves();
    const damaged = Buffer.from(bytes).fill(0, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 1000);
    await expect(checkImage(await file('damaged.jpg', damaged), 1_000_000)).rejects.toThrow(ContentError);
    await expect(checkImage(join(directory, 'damaged.jpg'), 1_000_000)).rejects.toThrow(/^image is corrupt: VipsJpeg: Corrupt JPEG data/);
  });

  it('a truncated JPEG is corrupt', async () => {
    const bytes = await twoHalves();
    await expect(checkImage(await file('truncated.jpg', bytes.subarray(0, bytes.length - 40)), 1_000_000)).rejects.toThrow(
      /^image is corrupt: /,
    );
  });

  it('refuses more pixels than the limit before decoding', async () => {
    await expect(checkImage(await file('large.jpg', await twoHalves()), 1000)).rejects.toThrow(
      `image exceeds 1000 pixels: it is ${WIDTH}x${HEIGHT}`,
    );
  });

  it('checks the first frame of an animation', async () => {
    const frame = (background: string) =>
      sharp({ create: { width: 40, height: 30, channels: 3, background } })
        .png()
        .toBuffer();
    const gif = await sharp([await frame('red'), await frame('blue')], { join: { animated: true } })
      .gif()
      .toBuffer();
    expect(await checkImage(await file('animated.gif', gif), 1_000_000)).toMatchObject({ format: 'gif', width: 40, height: 30, pages: 2 });
  });

  describe('checkImageFitted', () => {
    const sizes = [
      [100, 100],
      [300, 300],
      [400, 400],
    ] as const;

    it('proves the image and fits the same decode, auto-oriented, inside the largest box', async () => {
      const rotated = await sharp(await twoHalves())
        .withMetadata({ orientation: 6 })
        .jpeg()
        .toBuffer();
      const { metadata, fitted } = await checkImageFitted(await file('rotated.jpg', rotated), 1_000_000, sizes);
      expect(metadata).toMatchObject({ format: 'jpeg', width: WIDTH, height: HEIGHT, orientation: 6 });
      expect(fitted).toMatchObject({ box: [400, 400], info: { width: 300, height: 400, channels: 3 } });
      expect(fitted!.data.length).toBe(300 * 400 * 3);
    });

    it('gives the same verdicts as checkImage', async () => {
      const bytes = await twoHalves();
      const damaged = Buffer.from(bytes).fill(0, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 1000);
      await expect(checkImageFitted(await file('damaged-fitted.jpg', damaged), 1_000_000, sizes)).rejects.toThrow(
        /^image is corrupt: VipsJpeg: Corrupt JPEG data/,
      );
      await expect(
        checkImageFitted(await file('truncated-fitted.jpg', bytes.subarray(0, bytes.length - 40)), 1_000_000, sizes),
      ).rejects.toThrow(/^image is corrupt: /);
      await expect(checkImageFitted(await file('large-fitted.jpg', bytes), 1000, sizes)).rejects.toThrow(
        `image exceeds 1000 pixels: it is ${WIDTH}x${HEIGHT}`,
      );
    });
  });
});
