import type { Readable } from 'node:stream';
import { ContentError } from './content-error';
import { MAX_VALUE_CHARACTERS } from './content-limits';

/**
 * Decodes a byte stream as strict UTF-8, one chunk at a time. Invalid UTF-8 is a ContentError
 * naming the byte offset and line of the first bad byte. A leading BOM is dropped.
 */
export async function* strictUtf8(stream: Readable): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let offset = 0;
  let lines = 1;
  let pending = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      const bytes = Buffer.concat([pending, chunk]);
      const prefix = longestValidPrefix(bytes);
      // The bad sequence starts where the last (incomplete) character of the valid prefix starts.
      const valid = prefix - incompleteTail(bytes.subarray(0, prefix));
      const badOffset = offset - pending.length + valid;
      throw new ContentError(`Invalid UTF-8 at byte ${badOffset} (line ${lines + countNewlines(bytes.subarray(0, valid))})`);
    }
    lines += countNewlines(chunk);
    offset += chunk.length;
    const joined = chunk.length >= 4 ? chunk : Buffer.concat([pending, chunk]);
    pending = Buffer.from(joined.subarray(joined.length - incompleteTail(joined)));
    if (text) {
      yield text;
    }
  }
  try {
    const rest = decoder.decode();
    if (rest) {
      yield rest;
    }
  } catch {
    throw new ContentError(`Invalid UTF-8 at byte ${offset - pending.length} (line ${lines}): the content ends inside a character`);
  }
}

function countNewlines(bytes: Buffer): number {
  let count = 0;
  for (let index = bytes.indexOf(10); index !== -1; index = bytes.indexOf(10, index + 1)) {
    count++;
  }
  return count;
}

/** How many bytes at the end of `bytes` start a character that continues in the next chunk. */
export function incompleteTail(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes.readUInt8(bytes.length - back);
    if ((byte & 0xc0) === 0x80) {
      continue;
    }
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return length > back ? back : 0;
    }
    return 0;
  }
  return 0;
}

/** The length of the longest prefix of `bytes` that is valid UTF-8 (an incomplete last character allowed). */
export function longestValidPrefix(bytes: Buffer): number {
  let low = 0;
  let high = bytes.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, middle), { stream: true });
      low = middle;
    } catch {
      // Invalid within the first `middle` bytes: the valid prefix is shorter.
      high = middle - 1;
    }
  }
  return low;
}

/** Longest text held back at a chunk boundary before it is cut at any non-combining character. */
const MAX_HELD_BACK = 64 * 1024;

/**
 * Canonical text: NFC, with CRLF and CR line endings as LF, no BOM. Chunks are cut before an
 * ASCII character (which never composes with what precedes it), so normalising chunk by chunk
 * gives the same text as normalising the whole.
 */
export async function* canonicalText(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let held = '';
  let first = true;
  for await (const chunk of chunks) {
    held += first ? chunk.replace(/^\uFEFF/, '') : chunk;
    first = false;
    const cut = cutPoint(held);
    if (cut > 0) {
      yield canonical(held.slice(0, cut));
      held = held.slice(cut);
    }
  }
  if (held) {
    yield canonical(held);
  }
}

function cutPoint(text: string): number {
  for (let index = text.length - 1; index > 0; index--) {
    const code = text.charCodeAt(index);
    // Never split CR LF: cut before the CR, not between the two.
    if (code < 0x80 && code !== 0x0a && text.charCodeAt(index - 1) !== 0x0d) {
      return index;
    }
    if (code === 0x0a && text.charCodeAt(index - 1) !== 0x0d) {
      return index;
    }
  }
  if (text.length > MAX_HELD_BACK) {
    for (let index = text.length - 1; index > 0; index--) {
      if (!/[\p{M}\u1160-\u11ff\udc00-\udfff]/u.test(text.charAt(index))) {
        return index;
      }
    }
    // Nothing but combining marks: they are cut anyway (between two whole characters), or held text would grow without end.
    const last = text.charCodeAt(text.length - 1);
    return last >= 0xd800 && last <= 0xdbff ? text.length - 1 : text.length;
  }
  return 0;
}

function canonical(text: string): string {
  return text.replace(/\r\n?/g, '\n').normalize('NFC');
}

/** Bytes, characters (code points), words and lines of a text, counted chunk by chunk. */
export class TextCounter {
  bytes = 0;
  characters = 0;
  words = 0;
  newlines = 0;
  private inWord = false;
  private lastCharacter = '';

  add(text: string): void {
    this.bytes += Buffer.byteLength(text, 'utf8');
    for (const character of text) {
      this.characters++;
      const space = /\s/u.test(character);
      if (!space && !this.inWord) {
        this.words++;
      }
      this.inWord = !space;
      if (character === '\n') {
        this.newlines++;
      }
      this.lastCharacter = character;
    }
  }

  summary(): { bytes: number; characters: number; words: number; lines: number } {
    const lines = this.newlines + (this.characters > 0 && this.lastCharacter !== '\n' ? 1 : 0);
    return { bytes: this.bytes, characters: this.characters, words: this.words, lines };
  }
}

export interface TermSummary {
  total_terms: number;
  distinct_terms: number;
  exact: boolean;
  top_terms: { term: string; count: number }[];
}

/**
 * Term frequencies in bounded memory: at most `capacity` distinct terms are tracked; when the
 * table is full, the least frequent half is dropped (counts of frequent terms stay exact
 * unless they were once among the dropped ones), and the summary says it is approximate.
 */
export class TermCounter {
  private readonly counts = new Map<string, number>();
  private total = 0;
  private pruned = false;
  /** The word characters at the end of the text so far, which the next text may continue. */
  private carry = '';
  /** Within a run of word characters longer than MAX_VALUE_CHARACTERS: its first ones are counted, the rest skipped. */
  private overlong = false;

  constructor(private readonly capacity = 50_000) {}

  add(text: string): void {
    let rest = text;
    if (this.overlong) {
      const end = leadingWordEnd(rest);
      if (end === rest.length) {
        return;
      }
      this.overlong = false;
      rest = rest.slice(end);
    }
    // Only the new text is searched for where its last word starts: the carry is all word characters already.
    const start = trailingWordStart(rest);
    if (start === 0) {
      this.carry += rest;
    } else {
      this.count(this.carry + rest.slice(0, start));
      this.carry = rest.slice(start);
    }
    if (this.carry.length > MAX_VALUE_CHARACTERS) {
      this.count(this.carry.slice(0, MAX_VALUE_CHARACTERS));
      this.carry = '';
      this.overlong = true;
    }
  }

  summary(top = 20): TermSummary {
    this.count(this.carry);
    this.carry = '';
    return {
      total_terms: this.total,
      distinct_terms: this.counts.size,
      exact: !this.pruned,
      top_terms: [...this.counts]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, top)
        .map(([term, count]) => ({ term, count })),
    };
  }

  private count(text: string): void {
    for (const [word] of text.matchAll(/[\p{L}\p{N}]+(?:['’_-][\p{L}\p{N}]+)*/gu)) {
      const term = (word.length > MAX_VALUE_CHARACTERS ? word.slice(0, MAX_VALUE_CHARACTERS) : word).toLowerCase();
      this.total++;
      this.counts.set(term, (this.counts.get(term) ?? 0) + 1);
      if (this.counts.size > this.capacity) {
        this.prune();
      }
    }
  }

  private prune(): void {
    const sorted = [...this.counts.values()].sort((a, b) => a - b);
    const threshold = sorted[Math.floor(sorted.length / 2)] ?? 0;
    for (const [term, count] of this.counts) {
      if (count <= threshold) {
        this.counts.delete(term);
      }
    }
    this.pruned = true;
  }
}

const WORD_CHARACTER = /^[\p{L}\p{N}'’_-]$/u;

const isWordCharacter = (character: string) => WORD_CHARACTER.test(character);

/** Where the run of word characters at the end of `text` starts (text.length when there is none). */
function trailingWordStart(text: string): number {
  let start = text.length;
  while (start > 0) {
    const code = text.charCodeAt(start - 1);
    const width = code >= 0xdc00 && code <= 0xdfff && start >= 2 ? 2 : 1;
    if (!isWordCharacter(text.slice(start - width, start))) {
      break;
    }
    start -= width;
  }
  return start;
}

/** Where the run of word characters at the start of `text` ends (0 when there is none). */
function leadingWordEnd(text: string): number {
  let end = 0;
  while (end < text.length) {
    const code = text.charCodeAt(end);
    const width = code >= 0xd800 && code <= 0xdbff && end + 1 < text.length ? 2 : 1;
    if (!isWordCharacter(text.slice(end, end + width))) {
      break;
    }
    end += width;
  }
  return end;
}
