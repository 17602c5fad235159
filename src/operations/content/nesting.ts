import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { NestingGauge, TextPosition } from '../../common/json-nesting';
import { ContentError } from './content-error';
import { MAX_NESTING_DEPTH } from './content-limits';

/** JSON nested deeper than MAX_NESTING_DEPTH; `locateDeepNesting` says where. */
export class JsonNestingError extends ContentError {
  constructor() {
    super(`JSON nesting deeper than ${MAX_NESTING_DEPTH}`);
  }
}

/** Where a JSON byte stream first nests deeper than MAX_NESTING_DEPTH, reading no further; undefined if it never does. */
export async function locateDeepNesting(stream: Readable): Promise<TextPosition | undefined> {
  const gauge = new NestingGauge(MAX_NESTING_DEPTH);
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of stream) {
      const found = gauge.write(decoder.write(chunk as Buffer));
      if (found) {
        return found;
      }
    }
    return gauge.write(decoder.end());
  } finally {
    stream.destroy();
  }
}

export function describeDeepNesting(kind: 'JSON' | 'NDJSON', where: TextPosition): string {
  return `${kind} nesting deeper than ${MAX_NESTING_DEPTH} at line ${where.line}, column ${where.column}`;
}
