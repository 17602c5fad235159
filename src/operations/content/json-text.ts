import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';

export interface ReadContent {
  text: string;
  size: number;
  sha256: string;
}

export class ContentTooLargeError extends Error {}

/** Reads a stream up to `limit` bytes, hashing as it goes. */
export async function readText(stream: Readable, limit: number): Promise<ReadContent> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      stream.destroy();
      throw new ContentTooLargeError(`content exceeds ${limit} bytes`);
    }
    hash.update(buffer);
    chunks.push(buffer);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), size, sha256: hash.digest('hex') };
}

export type JsonParseResult = { ok: true; value: unknown } | { ok: false; message: string };

/** Parses JSON; on failure says where, as line and column. */
export function parseJson(text: string): JsonParseResult {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const message = (error as SyntaxError).message;
    const position = /at position (\d+)/.exec(message);
    const offset = position ? Number(position[1]) : text.length;
    const { line, column } = lineAndColumn(text, offset);
    const reason = message.replace(/ in JSON at position \d+.*$/, '').replace(/ \(line \d+ column \d+\)$/, '');
    return { ok: false, message: `Invalid JSON at line ${line}, column ${column}: ${reason}` };
  }
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}
