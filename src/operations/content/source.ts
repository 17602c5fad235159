import type { Readable } from 'node:stream';
import { MeasuringStream } from './measure';

/** `stream` piped through a MeasuringStream (sha256, size, limit); errors of either end the result. */
export function measured(stream: Readable, limit = Infinity): MeasuringStream {
  const measuring = new MeasuringStream(limit);
  stream.on('error', (error) => measuring.destroy(error));
  measuring.on('close', () => stream.destroy());
  return stream.pipe(measuring);
}
