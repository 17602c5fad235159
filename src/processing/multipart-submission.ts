import type { Multipart, MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { DomainError, PayloadTooLargeError, ValidationError } from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';
import {
  MAX_JSON_DEPTH,
  UnstorableCharacterError,
  checkJsonTextDepth,
  checkJsonValue,
  hasUnstorableCharacter,
} from '../common/json-limits';
import { withTimeout } from '../common/with-timeout';
import { validateSubmission } from './dto/validate-submission';
import { SubmitObjectDto } from './dto/submit-object.dto';
import { Readable } from 'node:stream';
import { ClassifiedUpload, drainFile } from './upload-content';

/** How long a refused upload may keep sending before the answer goes out anyway (and the connection closes). */
export const DRAIN_TIMEOUT_MS = 10_000;

export const FILE_FIELD = 'file';

/** A multipart submission whose fields are valid and whose file has been classified, ready to stream. */
export interface MultipartSubmission {
  request: SubmitObjectDto;
  upload: ClassifiedUpload;
  /** Reads what follows the file: nothing may (fields come first), so anything is 400. */
  rest(): Promise<void>;
  /** After a refusal: reads and discards what the client is still sending (bounded); false if it had to give up. */
  discard(): Promise<boolean>;
}

/**
 * A refusal raised while the client may still be sending: the request has been drained first
 * (bounded), so the answer does not race the upload; `drained` false means the connection
 * should close after the answer.
 */
export class MultipartRefusal extends Error {
  constructor(
    readonly error: unknown,
    readonly drained: boolean,
  ) {
    super('multipart refusal');
  }
}

/**
 * Reads a multipart submission: fields (identifier, operations, metadata, options, priority, webhook), then
 * exactly one file part named `file`. The fields are validated with the rules of the JSON body;
 * the file's first bytes decide its type. Nothing is buffered but the fields and those bytes.
 * A refusal is thrown as MultipartRefusal, after the rest of the request has been discarded.
 */
export async function readMultipartSubmission(request: FastifyRequest, limits: { uploadBytes: number }): Promise<MultipartSubmission> {
  const parts = request.parts();
  const fields = new Map<string, unknown[]>();
  let file: MultipartFile | undefined;
  try {
    for (;;) {
      const next = await nextPart(parts);
      if (next.done) {
        throw new ValidationError(`A file part named '${FILE_FIELD}' is required; submit without content as JSON (application/json)`, [
          { field: FILE_FIELD, message: 'is required' },
        ]);
      }
      const part = next.value;
      if (part.type === 'field') {
        if (part.valueTruncated || part.fieldnameTruncated) {
          throw new PayloadTooLargeError(`Field '${part.fieldname}' is over the payload limit`, { field: part.fieldname });
        }
        fields.set(part.fieldname, [...(fields.get(part.fieldname) ?? []), part.value]);
        continue;
      }
      file = part;
      if (part.fieldname !== FILE_FIELD) {
        throw new ValidationError(`Unexpected file field '${part.fieldname}'; send the file as '${FILE_FIELD}'`, [
          { field: part.fieldname, message: `files go in '${FILE_FIELD}'` },
        ]);
      }
      const missing = ['identifier', 'operations'].filter((name) => !fields.has(name));
      if (missing.length > 0) {
        throw new ValidationError(
          `The fields ${missing.join(' and ')} must come before the file in the form`,
          missing.map((field) => ({ field, message: 'must come before the file' })),
        );
      }
      if (part.filename && hasUnstorableCharacter(part.filename)) {
        throw new UnstorableCharacterError(`${FILE_FIELD} (its file name)`);
      }
      const submission = await validateSubmission(toSubmissionBody(fields));
      const upload = await ClassifiedUpload.open({
        filename: part.filename || undefined,
        mimetype: part.mimetype,
        stream: part.file,
        limitBytes: limits.uploadBytes,
      });
      return {
        request: submission,
        upload,
        rest: () => expectNothingMore(parts),
        discard: () => discardRest(parts, upload),
      };
    }
  } catch (error) {
    const drained = await discardRest(parts, file?.file);
    throw new MultipartRefusal(toMultipartError(error), drained);
  }
}

async function nextPart(parts: AsyncIterator<Multipart>): Promise<IteratorResult<Multipart>> {
  try {
    return await parts.next();
  } catch (error) {
    throw toMultipartError(error);
  }
}

/** Reads and discards the open file (if any) and every part after it, within DRAIN_TIMEOUT_MS. */
async function discardRest(parts: AsyncIterator<Multipart>, open: ClassifiedUpload | Readable | undefined): Promise<boolean> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  const left = () => Math.max(0, deadline - Date.now());
  if (open && !(await (open instanceof ClassifiedUpload ? open.drain(left()) : drainFile(open, left())))) {
    return false;
  }
  for (;;) {
    // A form that breaks while it is being discarded has nothing more to discard.
    const next = await withTimeout(
      parts.next().catch(() => ({ done: true, value: undefined }) as const),
      left(),
      () => 'timeout' as const,
    );
    if (next === 'timeout') {
      return false;
    }
    if (next.done) {
      return true;
    }
    if (next.value.type === 'file' && !(await drainFile(next.value.file, left()))) {
      return false;
    }
  }
}

async function expectNothingMore(parts: AsyncIterator<Multipart>): Promise<void> {
  const next = await nextPart(parts);
  if (!next.done) {
    const name = next.value.fieldname;
    throw new ValidationError(`Part '${name}' follows the file: send exactly one file, after all the fields`, [
      { field: name, message: 'must come before the file' },
    ]);
  }
}

/** The form's fields as the JSON body they stand for, so the same DTO rules apply. */
function toSubmissionBody(fields: Map<string, unknown[]>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, values] of fields) {
    if (name === 'operations') {
      body.operations = values.flatMap(parseOperations);
      continue;
    }
    if (values.length > 1) {
      throw new ValidationError(`Field '${name}' was sent more than once`, [{ field: name, message: 'must be sent once' }]);
    }
    const value = values[0];
    if (name === 'payload') {
      throw new ValidationError('Send either a payload (JSON) or a file (multipart), not both', [
        { field: 'payload', message: 'not allowed with a file' },
      ]);
    } else if (name === 'metadata' || name === 'options' || name === 'webhook') {
      body[name] = parseJsonField(name, value);
    } else if (name === 'priority' && typeof value === 'string' && /^-?\d+$/.test(value.trim())) {
      body.priority = Number(value.trim());
    } else {
      body[name] = value;
    }
  }
  return body;
}

/** `["validate","transform"]`, `validate,transform`, or one name per repeated field. */
function parseOperations(value: unknown): unknown[] {
  if (typeof value !== 'string') {
    return Array.isArray(value) ? value : [value];
  }
  const text = value.trim();
  if (text.startsWith('[')) {
    const parsed = parseJsonField('operations', text);
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  return text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
}

/** A JSON field of the form, within the nesting limit before anything walks it. */
function parseJsonField(name: string, value: unknown): unknown {
  if (typeof value !== 'string') {
    checkJsonValue(name, value); // sent with Content-Type application/json: already parsed
    return value;
  }
  checkJsonTextDepth(name, value, MAX_JSON_DEPTH);
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'not JSON';
    throw new ValidationError(`${name} must be JSON (${reason})`, [{ field: name, message: 'must be valid JSON' }]);
  }
}

const MULTIPART_LIMIT_CODES = new Set(['FST_REQ_FILE_TOO_LARGE', 'FST_PARTS_LIMIT', 'FST_FIELDS_LIMIT']);

/** The multipart parser's errors as the service's: limits 413, a second file or malformed form 400. */
export function toMultipartError(error: unknown): unknown {
  if (error instanceof DomainError || error instanceof MultipartRefusal) {
    return error;
  }
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && MULTIPART_LIMIT_CODES.has(code)) {
    return new PayloadTooLargeError(`The multipart form is over a limit: ${message}`);
  }
  if (code === 'FST_FILES_LIMIT') {
    return new ValidationError('Send exactly one file', [{ field: FILE_FIELD, message: 'exactly one file' }]);
  }
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    // Nobody reads this answer: the client is gone. It is not the service's failure.
    return new ValidationError('The request was closed before the upload finished');
  }
  if (code === 'FST_INVALID_JSON_FIELD_ERROR' || code === 'FST_PROTO_VIOLATION' || code === 'FST_MP_PREMATURE_CLOSE') {
    return new ValidationError(`Malformed multipart form: ${message}`, undefined, ErrorCode.ValidationFailed);
  }
  // busboy's own errors carry no code
  if (
    /^(Unexpected end of multipart data|Multipart: Boundary not found)|terminated early due to unexpected end of multipart data/.test(
      message,
    )
  ) {
    return new ValidationError(`Malformed multipart form: ${message}`);
  }
  return error;
}
