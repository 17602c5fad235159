import type { Readable } from 'node:stream';
import { parser } from 'stream-json';
import { Assembler } from 'stream-json/assembler.js';
import type { Token } from 'stream-json/parser.js';
import { verifier } from 'stream-json/utils/verifier.js';
import { ContentError } from './content-error';
import { MAX_NESTING_DEPTH } from './content-limits';
import { JsonNestingError } from './nesting';

/** A JSON syntax error found by the streaming parser; `locateJsonError` says where. */
export class JsonSyntaxError extends ContentError {}

export type JsonKind = 'array' | 'object' | 'string' | 'number' | 'boolean' | 'null';

/**
 * JSON tokens of a byte stream, with packed keys/strings/numbers only (memory per token is bounded by the value).
 * Content nested deeper than MAX_NESTING_DEPTH is a JsonNestingError at the token that opens one level too many.
 */
export async function* jsonTokens(stream: Readable): AsyncGenerator<Token> {
  const tokens = stream.pipe(parser.asStream({ streamValues: false }));
  stream.on('error', (error) => tokens.destroy(error));
  let depth = 0;
  try {
    for await (const token of tokens as AsyncIterable<Token>) {
      if (token.name === 'startArray' || token.name === 'startObject') {
        if (++depth > MAX_NESTING_DEPTH) {
          throw new JsonNestingError();
        }
      } else if (token.name === 'endArray' || token.name === 'endObject') {
        depth--;
      }
      yield token;
    }
  } catch (error) {
    if (error instanceof Error && /^Parser /.test(error.message)) {
      throw new JsonSyntaxError(plainReason(error.message));
    }
    throw error;
  } finally {
    stream.destroy();
    tokens.destroy();
  }
}

const TOKEN_KINDS: Partial<Record<Token['name'], JsonKind>> = {
  startArray: 'array',
  startObject: 'object',
  stringValue: 'string',
  startString: 'string',
  numberValue: 'number',
  startNumber: 'number',
  trueValue: 'boolean',
  falseValue: 'boolean',
};

/** The kind of the JSON value a token starts. */
export function kindOfToken(token: Token): JsonKind {
  return TOKEN_KINDS[token.name] ?? 'null';
}

export interface JsonItem {
  /** Whether the document is an array (items are its elements) or a single value (one item). */
  documentKind: JsonKind;
  value: unknown;
}

/**
 * The elements of a top-level JSON array one at a time, or the document itself when it is not
 * an array. Only one element is in memory at once.
 */
export async function* jsonItems(stream: Readable): AsyncGenerator<JsonItem> {
  let documentKind: JsonKind | undefined;
  let assembler: Assembler | undefined;
  for await (const token of jsonTokens(stream)) {
    if (documentKind === undefined) {
      documentKind = kindOfToken(token);
      if (documentKind === 'array') {
        continue;
      }
    }
    if (documentKind === 'array' && !assembler && token.name === 'endArray') {
      continue;
    }
    assembler ??= new Assembler();
    assembler.tapChain(token);
    if (assembler.done) {
      yield { documentKind, value: assembler.current };
      assembler = undefined;
    }
  }
}

export interface JsonErrorLocation {
  line: number;
  column: number;
  reason: string;
}

/** Where a JSON stream stops being valid JSON (stream-json's Verifier), or undefined if it is valid. */
export async function locateJsonError(stream: Readable): Promise<JsonErrorLocation | undefined> {
  const check = stream.pipe(verifier.asStream());
  stream.on('error', (error) => check.destroy(error));
  try {
    for await (const chunk of check) {
      void chunk;
    }
    return undefined;
  } catch (error) {
    const located = error as Error & { line?: number; pos?: number };
    if (typeof located.line === 'number' && typeof located.pos === 'number') {
      const reason = plainReason(located.message.replace(/^ERROR at \d+ \(\d+, \d+\): /, ''));
      return { line: located.line, column: located.pos, reason };
    }
    throw error;
  } finally {
    stream.destroy();
  }
}

/** stream-json's parser and verifier messages in plain words: "Verifier has expected a value" -> "the content ends where a value was expected". */
function plainReason(message: string): string {
  return message
    .replace(/^(?:Parser|Verifier) cannot parse input: /, '')
    .replace(/^(?:Parser|Verifier) has expected (.*)$/, 'the content ends where $1 was expected');
}
