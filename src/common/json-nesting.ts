export interface TextPosition {
  line: number;
  column: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * Follows the nesting of JSON text a chunk at a time, outside strings, and finds where it first goes
 * deeper than `limit` (the bracket that opens one level too many). One pass, constant memory.
 * Columns count UTF-16 code units, as JSON.parse does.
 */
export class NestingGauge {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;
  private column = 0;

  constructor(private readonly limit: number) {}

  /** Where the text fed so far first nests deeper than the limit, or undefined. */
  write(text: string): TextPosition | undefined {
    let { depth, inString, escaped, line, column } = this;
    const limit = this.limit;
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      column++;
      if (inString) {
        if (escaped) {
          escaped = false;
        } else if (code === BACKSLASH) {
          escaped = true;
        } else if (code === QUOTE) {
          inString = false;
        }
      } else if (code === QUOTE) {
        inString = true;
      } else if (code === OPEN_BRACKET || code === OPEN_BRACE) {
        if (++depth > limit) {
          return { line, column };
        }
      } else if (code === CLOSE_BRACKET || code === CLOSE_BRACE) {
        depth--;
      } else if (code === NEWLINE) {
        line++;
        column = 0;
      }
    }
    Object.assign(this, { depth, inString, escaped, line, column });
    return undefined;
  }
}

/** Where JSON text nests deeper than `limit`: undefined for text that cannot (shorter than the limit) or does not. */
export function deepNestingIn(text: string, limit: number): TextPosition | undefined {
  return text.length > limit ? new NestingGauge(limit).write(text) : undefined;
}
