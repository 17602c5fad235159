import { openImage } from './images';

/** Histograms and dominant colours are computed on the image scaled to fit inside this square. */
export const ANALYSIS_MAX_SIDE = 1024;
const CHANNEL_NAMES = ['red', 'green', 'blue', 'alpha'];

export interface ImageAnalysis {
  entropy: number;
  sharpness: number;
  is_opaque: boolean;
  channels: { name: string; min: number; max: number; mean: number; stdev: number }[];
  histogram: { sampled_width: number; sampled_height: number; bins: number; channels: Record<string, number[]> };
  dominant_colours: { hex: string; rgb: [number, number, number]; share: number }[];
}

/**
 * Statistics of an image: entropy, sharpness and per-channel figures over every pixel (libvips
 * stats); a 256-bin histogram per channel and the five dominant colours (4 bits per channel)
 * over the image scaled to fit inside 1024x1024, which bounds the memory they need.
 */
function countAt(counts: number[] | Uint32Array, index: number): void {
  counts[index] = (counts[index] ?? 0) + 1;
}

export async function analyzeImage(path: string): Promise<ImageAnalysis> {
  const stats = await openImage(path).stats();
  const { data, info } = await openImage(path)
    .autoOrient()
    .resize(ANALYSIS_MAX_SIDE, ANALYSIS_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const channels = info.channels;
  const histograms = Array.from({ length: channels }, () => new Array<number>(256).fill(0));
  const buckets = new Uint32Array(4096);
  let counted = 0;
  for (let offset = 0; offset < data.length; offset += channels) {
    for (const [channel, histogram] of histograms.entries()) {
      countAt(histogram, data.readUInt8(offset + channel));
    }
    if (channels === 4 && data.readUInt8(offset + 3) < 128) {
      continue;
    }
    const first = data.readUInt8(offset);
    const [r, g, b] = channels >= 3 ? [first, data.readUInt8(offset + 1), data.readUInt8(offset + 2)] : [first, first, first];
    countAt(buckets, ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
    counted++;
  }
  const dominant = [...buckets.entries()]
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, 5)
    .map(([bucket, count]) => {
      const rgb: [number, number, number] = [((bucket >> 8) << 4) | 8, (((bucket >> 4) & 15) << 4) | 8, ((bucket & 15) << 4) | 8];
      return { hex: `#${rgb.map((value) => value.toString(16).padStart(2, '0')).join('')}`, rgb, share: count / counted };
    });
  const names = channels >= 3 ? CHANNEL_NAMES : ['grey', 'alpha'];
  return {
    entropy: stats.entropy,
    sharpness: stats.sharpness,
    is_opaque: stats.isOpaque,
    channels: stats.channels.map((channel, index) => ({
      name: (stats.channels.length >= 3 ? CHANNEL_NAMES : ['grey', 'alpha'])[index] ?? `channel_${index + 1}`,
      min: channel.min,
      max: channel.max,
      mean: channel.mean,
      stdev: channel.stdev,
    })),
    histogram: {
      sampled_width: info.width,
      sampled_height: info.height,
      bins: 256,
      channels: Object.fromEntries(histograms.map((histogram, index) => [names[index] ?? `channel_${index + 1}`, histogram])),
    },
    dominant_colours: dominant,
  };
}
