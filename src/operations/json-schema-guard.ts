import { RE2JS } from 're2js';
import { ValidationError } from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';

/**
 * Limits on a client's JSON Schema (options.validate.json_schema), checked before Ajv compiles it:
 * compiling the largest schema within them takes milliseconds, and nothing in it can recurse.
 */
export const JSON_SCHEMA_LIMITS = {
  /** Serialized (JSON, UTF-8) size. */
  bytes: 16 * 1024,
  /** Nesting of objects and arrays. */
  depth: 24,
  /** Values across the whole schema: every object member (keyword or property name) and array item. */
  nodes: 200,
  /** `$ref` keywords. */
  refs: 50,
  /** Regular expressions (`pattern` values and `patternProperties` keys): each costs a compile on RE2. */
  patterns: 20,
} as const;

/** Keywords whose values are data, not subschemas: a `$ref` inside them is not a reference. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);

/** Keywords that make references or resources the checks below cannot follow. */
const UNSUPPORTED_KEYWORDS = ['$dynamicRef', '$dynamicAnchor', '$recursiveRef', '$recursiveAnchor', '$anchor'];

export class JsonSchemaRefusedError extends ValidationError {
  constructor(message: string, details: Record<string, unknown>, code: ErrorCode = ErrorCode.JsonSchemaTooComplex) {
    super(`options.validate.json_schema: ${message}`, { field: 'options.validate.json_schema', ...details }, code);
  }
}

function overLimit(limit: keyof typeof JSON_SCHEMA_LIMITS, what: string): JsonSchemaRefusedError {
  return new JsonSchemaRefusedError(`${what} is over the limit of ${JSON_SCHEMA_LIMITS[limit]}`, { limit, max: JSON_SCHEMA_LIMITS[limit] });
}

interface Reference {
  /** Where the `$ref` keyword is, as path segments from the root. */
  at: string[];
  /** The subschema it points to, as path segments from the root. */
  target: string[];
}

/**
 * Refuses a schema over JSON_SCHEMA_LIMITS or with a recursive `$ref`, in one pass without
 * recursion. References must be local JSON pointers (`#` or `#/…`); every recursive reference is
 * refused, also one that descends into the data, since content may nest deeper than any stack.
 */
export function checkJsonSchemaLimits(schema: Record<string, unknown>): void {
  if (Buffer.byteLength(JSON.stringify(schema)) > JSON_SCHEMA_LIMITS.bytes) {
    throw overLimit('bytes', 'Its size in bytes');
  }
  const references: Reference[] = [];
  let nodes = 0;
  let patterns = 0;
  const pending: { value: unknown; path: string[]; isData: boolean }[] = [{ value: schema, path: [], isData: false }];
  for (let visit = pending.pop(); visit; visit = pending.pop()) {
    const { value, path, isData } = visit;
    if (value === null || typeof value !== 'object') {
      continue;
    }
    if (path.length >= JSON_SCHEMA_LIMITS.depth) {
      throw overLimit('depth', 'Its nesting depth');
    }
    const entries = Object.entries(value);
    nodes += entries.length;
    if (nodes > JSON_SCHEMA_LIMITS.nodes) {
      throw overLimit('nodes', 'Its number of values (keywords, property names and array items)');
    }
    if (!isData && !Array.isArray(value)) {
      collectReference(value as Record<string, unknown>, path, references);
      patterns += countPatterns(value as Record<string, unknown>);
      if (patterns > JSON_SCHEMA_LIMITS.patterns) {
        throw overLimit('patterns', 'Its number of regular expressions (pattern, patternProperties)');
      }
    }
    for (const [key, child] of entries) {
      pending.push({ value: child, path: [...path, key], isData: isData || DATA_KEYWORDS.has(key) });
    }
  }
  if (references.length > JSON_SCHEMA_LIMITS.refs) {
    throw overLimit('refs', 'Its number of $ref');
  }
  refuseRecursion(references);
}

function collectReference(node: Record<string, unknown>, path: string[], references: Reference[]): void {
  const unsupported = UNSUPPORTED_KEYWORDS.find((keyword) => keyword in node) ?? (path.length > 0 && '$id' in node ? '$id' : undefined);
  if (unsupported) {
    throw new JsonSchemaRefusedError(
      `${unsupported} at ${pointer(path)} is not supported (only $id at the root, and $ref to local JSON pointers)`,
      {
        keyword: unsupported,
        at: pointer(path),
      },
    );
  }
  const ref = node.$ref;
  if (typeof ref === 'string') {
    references.push({ at: path, target: parseLocalPointer(ref, path) });
  }
}

function countPatterns(node: Record<string, unknown>): number {
  const patternProperties = node.patternProperties;
  const keys = patternProperties !== null && typeof patternProperties === 'object' ? Object.keys(patternProperties).length : 0;
  return keys + (typeof node.pattern === 'string' ? 1 : 0);
}

function parseLocalPointer(ref: string, at: string[]): string[] {
  if (ref !== '#' && !ref.startsWith('#/')) {
    throw new JsonSchemaRefusedError(`$ref "${ref}" at ${pointer(at)} is not a local JSON pointer (# or #/…)`, {
      keyword: '$ref',
      at: pointer(at),
    });
  }
  try {
    return ref === '#'
      ? []
      : ref
          .slice(2)
          .split('/')
          .map((segment) => decodeURIComponent(segment).replaceAll('~1', '/').replaceAll('~0', '~'));
  } catch {
    throw new JsonSchemaRefusedError(`$ref "${ref}" at ${pointer(at)} is not a valid JSON pointer`, { keyword: '$ref', at: pointer(at) });
  }
}

function isWithin(path: string[], ancestor: string[]): boolean {
  return ancestor.length <= path.length && ancestor.every((segment, index) => path[index] === segment);
}

/**
 * Following a reference means validating its target, which includes every reference inside the
 * target: a cycle in that graph is recursion (`{"$ref":"#"}`, or two definitions pointing at each other).
 */
function refuseRecursion(references: Reference[]): void {
  const inside = new Map(references.map((reference) => [reference, references.filter((other) => isWithin(other.at, reference.target))]));
  const state = new Map<Reference, 'open' | 'done'>();
  for (const start of references) {
    if (state.has(start)) {
      continue;
    }
    const stack: { reference: Reference; next: number }[] = [{ reference: start, next: 0 }];
    state.set(start, 'open');
    for (let top = stack.at(-1); top; top = stack.at(-1)) {
      const reference = inside.get(top.reference)?.[top.next++];
      if (!reference) {
        state.set(top.reference, 'done');
        stack.pop();
        continue;
      }
      if (state.get(reference) === 'open') {
        throw new JsonSchemaRefusedError(
          `$ref at ${pointer(reference.at)} is recursive (it can reach itself); recursive schemas are not accepted`,
          {
            limit: 'recursion',
            at: pointer(reference.at),
          },
        );
      }
      if (!state.has(reference)) {
        state.set(reference, 'open');
        stack.push({ reference, next: 0 });
      }
    }
  }
}

function pointer(path: string[]): string {
  return `#${path.map((segment) => `/${segment.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')}`;
}

/**
 * Ajv's `code.regExp` engine: `pattern` and `patternProperties` run on RE2 (linear time in the
 * input), so no client pattern can backtrack. Patterns RE2 cannot run (backreferences, lookaround) are refused.
 */
function compileLinear(pattern: string): { test(input: string): boolean } {
  try {
    return RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (error) {
    throw new JsonSchemaRefusedError(
      `the pattern ${JSON.stringify(pattern)} cannot run on the linear-time engine (RE2: no backreferences or lookaround): ${(error as Error).message}`,
      { pattern },
      ErrorCode.UnsupportedPattern,
    );
  }
}

// `code` names the engine only in Ajv's standalone code, which this service does not generate.
export const linearRegExp = Object.assign(compileLinear, { code: 'RE2JS.compile' });
