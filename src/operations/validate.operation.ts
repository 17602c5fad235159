import { Injectable } from '@nestjs/common';
import { fileTypeFromBuffer } from 'file-type';
import type { ValidateFunction } from 'ajv';
import { Assembler } from 'stream-json/assembler.js';
import { AppConfig } from '../config/app-config';
import { ContentError } from './content/content-error';
import {
  ContentKind,
  IMAGE_CONTENT_TYPES,
  baseContentType,
  contentKindOf,
  isRecordKind,
  supportedContentTypes,
} from './content/content-kind';
import { CsvDialect, checkCsvRecords, sniffCsvDialect } from './content/csv';
import { FITTED_IMAGE, checkImage, checkImageFitted, fileHead, imageContentType, orientedSize } from './content/images';
import { JsonKind, JsonSyntaxError, jsonTokens, kindOfToken, locateJsonError } from './content/json-stream';
import { readHead } from './content/measure';
import { JsonNestingError, describeDeepNesting, locateDeepNesting } from './content/nesting';
import { sourceItems } from './content/records';
import { measured } from './content/source';
import { strictUtf8 } from './content/text';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, completed, failed } from './operation';
import { DEFAULT_THUMBNAIL_SIZES, compileJsonSchema, readOptions } from './operation-options';
import { ProgressThrottle } from './progress-throttle';

/** How much of the start of the content is read to detect its type and CSV dialect. */
const HEAD_BYTES = 64 * 1024;
/** A JSON Schema applies to a JSON document as a whole, so the document is assembled in memory: up to this size. */
export const SCHEMA_DOCUMENT_MAX_BYTES = 32 * 1024 * 1024;

export interface ImageFacts {
  format: string;
  width: number;
  height: number;
  /** Size once auto-oriented by its EXIF orientation. */
  oriented_width: number;
  oriented_height: number;
  pages: number;
  orientation: number | null;
}

export interface ValidateResult {
  valid: true;
  /** The type the content was found to be (for images, from its signature). */
  content_type: string;
  declared_content_type: string;
  kind: ContentKind;
  size: number;
  sha256: string;
  json_kind?: JsonKind;
  record_count?: number;
  csv?: CsvDialect;
  image?: ImageFacts;
  json_schema: 'passed' | 'not_provided';
}

type Checked = Partial<ValidateResult> & { size: number; sha256: string };

/**
 * Proves the content is what it claims, reading all of it once as a stream: JSON, NDJSON and
 * CSV parse completely (and match the optional JSON Schema), text is strict UTF-8, images
 * decode within the pixel limit. Invalid content fails, saying what and where.
 */
@Operation()
@Injectable()
export class ValidateOperation implements ProcessingOperation {
  readonly name = 'validate';

  constructor(private readonly config: AppConfig) {}

  async run(context: OperationContext): Promise<OperationOutcome> {
    const declared = baseContentType(context.object.source?.content_type ?? 'application/json');
    const declaredKind = contentKindOf(declared);
    // An image is decoded from a local copy of the job's anyway: its signature is read from that
    // copy rather than by a request of its own.
    const head =
      declaredKind === 'image'
        ? await fileHead((await context.contentFile()).path, HEAD_BYTES)
        : await readHead(await context.openContent(), HEAD_BYTES);
    const detected = (await fileTypeFromBuffer(head))?.mime;
    let contentType = declared;
    if (detected && (IMAGE_CONTENT_TYPES as readonly string[]).includes(detected)) {
      contentType = detected;
    } else if (declaredKind === 'image') {
      return failed(`image is corrupt: the content has no ${declared} signature${detected ? ` (it looks like ${detected})` : ''}`);
    } else if (detected && !/^text\/|xml|json|javascript/.test(detected)) {
      return failed(`content declared as ${declared} is ${detected}`);
    }
    const kind = contentKindOf(contentType);
    if (!kind) {
      return failed(`Unsupported content type ${declared}; supported: ${supportedContentTypes().join(', ')}`);
    }
    const schema = readOptions(context.object.options).validate?.json_schema;
    if (schema && !isRecordKind(kind)) {
      return failed(`a JSON Schema applies to JSON, NDJSON or CSV content; content is ${contentType}`);
    }
    let validateSchema: ValidateFunction | undefined;
    try {
      validateSchema = schema ? compileJsonSchema(schema) : undefined;
    } catch (error) {
      // Checked at submission since the limits exist; an object stored before them can still carry such a schema.
      return failed(`the JSON Schema cannot be used: ${(error as Error).message}`);
    }
    try {
      const checked = await this.check(kind, context, head, validateSchema);
      const result: ValidateResult = {
        valid: true,
        content_type: checked.content_type ?? contentType,
        declared_content_type: declared,
        kind,
        ...checked,
        json_schema: schema ? 'passed' : 'not_provided',
      };
      return completed({ ...result });
    } catch (error) {
      if (error instanceof JsonSyntaxError) {
        const where = await locateJsonError(await context.openContent());
        return failed(
          where ? `Invalid JSON at line ${where.line}, column ${where.column}: ${where.reason}` : `Invalid JSON: ${error.message}`,
        );
      }
      if (error instanceof JsonNestingError) {
        const where = await locateDeepNesting(await context.openContent());
        return failed(where ? describeDeepNesting('JSON', where) : error.message);
      }
      if (error instanceof ContentError) {
        return failed(error.message);
      }
      throw error;
    }
  }

  private async check(kind: ContentKind, context: OperationContext, head: Buffer, schema?: ValidateFunction): Promise<Checked> {
    const limit = this.config.limits.uploadBytes;
    const progress = new ProgressThrottle(context);
    switch (kind) {
      case 'json':
        return this.checkJson(context, schema, progress);
      case 'ndjson':
      case 'csv': {
        const csv = kind === 'csv' ? sniffCsvDialect(sampleOf(head)) : undefined;
        const content = measured(await context.openContent(), limit);
        if (csv && !schema) {
          // Nothing looks at the records: parsing them strictly and counting them is the proof.
          const count = await checkCsvRecords(
            content,
            csv,
            () => context.openContent(),
            (records) => progress.report(records > 0 ? `Validated ${records} records` : `Validated ${content.size} bytes`),
          );
          return { size: content.size, sha256: content.sha256, record_count: count, csv };
        }
        let count = 0;
        for await (const item of sourceItems(kind, content, csv)) {
          count++;
          if (schema && !schema(item.value)) {
            throw new ContentError(`Record ${count} (${item.where}) does not match the JSON Schema ${describeSchemaError(schema)}`);
          }
          await progress.report(`Validated ${count} records`);
        }
        return { size: content.size, sha256: content.sha256, record_count: count, ...(csv ? { csv } : {}) };
      }
      case 'text': {
        const content = measured(await context.openContent(), limit);
        for await (const text of strictUtf8(content)) {
          void text;
          await progress.report(`Checked ${content.size} bytes of text`);
        }
        return { size: content.size, sha256: content.sha256 };
      }
      case 'image': {
        // The job's local copy, which thumbnail reads too.
        const content = await context.contentFile();
        if (content.size > limit) {
          throw new ContentError(`Content is too large: it exceeds ${limit} bytes`);
        }
        const metadata = await this.checkImage(context, content.path);
        const oriented = orientedSize(metadata);
        return {
          size: content.size,
          sha256: content.sha256,
          content_type: imageContentType(metadata.format, metadata.compression),
          image: {
            format: metadata.format === 'heif' && metadata.compression === 'av1' ? 'avif' : String(metadata.format),
            width: metadata.width ?? 0,
            height: metadata.height ?? 0,
            oriented_width: oriented.width,
            oriented_height: oriented.height,
            pages: metadata.pages ?? 1,
            orientation: metadata.orientation ?? null,
          },
        };
      }
    }
  }

  /**
   * When this job makes thumbnails next, the decode that proves the image also fits it inside the
   * largest thumbnail box, and thumbnail starts from those pixels rather than decoding it again.
   */
  private async checkImage(context: OperationContext, path: string) {
    const maxPixels = this.config.limits.imagePixels;
    if (!context.object.plan.includes('thumbnail')) {
      return checkImage(path, maxPixels);
    }
    const sizes = readOptions(context.object.options).thumbnail?.sizes ?? DEFAULT_THUMBNAIL_SIZES;
    const { metadata, fitted } = await checkImageFitted(path, maxPixels, sizes);
    if (fitted) {
      await context.shareInJob(FITTED_IMAGE, { about: { box: fitted.box, info: fitted.info }, bytes: fitted.data });
    }
    return metadata;
  }

  /** One pass over the tokens: counts the top-level elements, and assembles the document only when a schema must see it. */
  private async checkJson(context: OperationContext, schema: ValidateFunction | undefined, progress: ProgressThrottle): Promise<Checked> {
    const size = context.object.source?.size;
    if (schema && size !== undefined && size > SCHEMA_DOCUMENT_MAX_BYTES) {
      throw new ContentError(
        `a JSON Schema can check a JSON document of up to ${SCHEMA_DOCUMENT_MAX_BYTES} bytes (this one has ${size}); submit the records as NDJSON to check them one by one`,
      );
    }
    const content = measured(await context.openContent(), schema ? SCHEMA_DOCUMENT_MAX_BYTES : this.config.limits.uploadBytes);
    const document = schema ? new Assembler() : undefined;
    let documentKind: JsonKind | undefined;
    let depth = 0;
    let elements = 0;
    for await (const token of jsonTokens(content)) {
      documentKind ??= kindOfToken(token);
      if (token.name === 'endArray' || token.name === 'endObject') {
        depth--;
      } else {
        if (depth === 1 && documentKind === 'array' && token.name !== 'keyValue') {
          elements++;
          await progress.report(`Validated ${elements} elements`);
        }
        if (token.name === 'startArray' || token.name === 'startObject') {
          depth++;
        }
      }
      document?.tapChain(token);
    }
    if (schema && document && !schema(document.current)) {
      throw new ContentError(`Content does not match the JSON Schema ${describeSchemaError(schema)}`);
    }
    return {
      size: content.size,
      sha256: content.sha256,
      json_kind: documentKind ?? 'null',
      record_count: documentKind === 'array' ? elements : 1,
    };
  }
}

function describeSchemaError(schema: ValidateFunction): string {
  const [problem] = schema.errors ?? [];
  return `at ${problem?.instancePath || '/'}: ${problem?.message ?? 'invalid'}`;
}

/** The head of CSV content as text for sniffing: a cut-off last line is dropped. */
function sampleOf(head: Buffer): string {
  const text = head.toString('utf8');
  if (head.length < HEAD_BYTES) {
    return text;
  }
  const lastNewline = text.lastIndexOf('\n');
  return lastNewline > 0 ? text.slice(0, lastNewline + 1) : text;
}
