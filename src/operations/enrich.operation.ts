import { Injectable } from '@nestjs/common';
import { isRecordKind, type ContentKind } from './content/content-kind';
import { imageMetadata, orientedSize } from './content/images';
import { readNdjsonBatches } from './content/records';
import { InferredField, InferredSchema, SchemaInference } from './content/schema-inference';
import { TextCounter } from './content/text';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, completed } from './operation';
import { RECORDS_FILE, TEXT_FILE, TransformResult } from './transform.operation';
import { ProgressThrottle } from './progress-throttle';
import { SERVICE_NAME, SERVICE_VERSION } from '../common/service-info';
import type { ValidateResult } from './validate.operation';

export type FieldSchema = InferredField;

export interface TextCounts {
  bytes: number;
  characters: number;
  words: number;
  lines: number;
}

export interface EnrichResult {
  kind: ContentKind;
  /** Records kinds. */
  record_count: number;
  schema: InferredSchema;
  text?: TextCounts;
  image?: Record<string, unknown>;
  provenance: Record<string, unknown>;
}

/**
 * Metadata: the inferred schema of records, counts of text, facts of an image, and where the
 * content came from.
 */
@Operation()
@Injectable()
export class EnrichOperation implements ProcessingOperation {
  readonly name = 'enrich';

  async run(context: OperationContext): Promise<OperationOutcome> {
    const validation = await context.readResult<ValidateResult>('validate');
    const transform = await context.readResult<TransformResult>('transform');
    const kind = validation.kind ?? 'json';
    let described: Pick<EnrichResult, 'record_count' | 'schema' | 'text' | 'image'>;
    if (isRecordKind(kind)) {
      described = await this.records(context, transform);
    } else if (kind === 'text') {
      described = { record_count: 0, schema: { fields: [] }, text: await this.text(context) };
    } else {
      described = { record_count: 0, schema: { fields: [] }, image: await this.image(context, transform) };
    }
    const result: EnrichResult = {
      kind,
      ...described,
      provenance: {
        object_id: context.object.id,
        identifier: context.object.identifier,
        source_sha256: validation.sha256,
        source_size: validation.size,
        content_type: validation.content_type,
        declared_content_type: validation.declared_content_type,
        source_s3_url: context.object.source?.s3_url ?? null,
        canonical_file: transform.file,
        canonical_bytes: transform.bytes,
        metadata: context.object.metadata,
        service: { name: SERVICE_NAME, version: SERVICE_VERSION },
        object_created_at: context.object.createdAt.toISOString(),
        enriched_at: new Date().toISOString(),
      },
    };
    return completed({ ...result });
  }

  private async records(context: OperationContext, transform: TransformResult): Promise<Pick<EnrichResult, 'record_count' | 'schema'>> {
    // Transform infers the schema as it writes the records; a result without it (an older version's) is read again.
    if (transform.schema && transform.record_count !== undefined) {
      return { record_count: transform.record_count, schema: transform.schema };
    }
    const inference = new SchemaInference();
    const progress = new ProgressThrottle(context);
    for await (const batch of readNdjsonBatches(await context.openFile('transform', RECORDS_FILE))) {
      for (const record of batch) {
        inference.add(record);
      }
      await progress.report(`Inferred schema of ${inference.records} of ${transform.record_count} records`);
    }
    return { record_count: inference.records, schema: inference.schema() };
  }

  private async text(context: OperationContext): Promise<TextCounts> {
    const counter = new TextCounter();
    const progress = new ProgressThrottle(context);
    const decoder = new TextDecoder('utf-8');
    for await (const chunk of await context.openFile('transform', TEXT_FILE)) {
      counter.add(decoder.decode(chunk as Buffer, { stream: true }));
      await progress.report(`Counted ${counter.bytes} bytes of text`);
    }
    counter.add(decoder.decode());
    return counter.summary();
  }

  private async image(context: OperationContext, transform: TransformResult): Promise<Record<string, unknown>> {
    const metadata = await imageMetadata((await context.contentFile()).path);
    const oriented = orientedSize(metadata);
    return {
      format: metadata.format === 'heif' && metadata.compression === 'av1' ? 'avif' : metadata.format,
      width: metadata.width,
      height: metadata.height,
      oriented_width: oriented.width,
      oriented_height: oriented.height,
      colour_space: metadata.space,
      channels: metadata.channels,
      bit_depth: metadata.depth,
      has_alpha: metadata.hasAlpha,
      has_icc_profile: metadata.hasProfile,
      progressive: metadata.isProgressive,
      pages: metadata.pages ?? 1,
      density: metadata.density ?? null,
      exif: { present: Boolean(metadata.exif), orientation: metadata.orientation ?? null },
      canonical: { format: 'webp', width: transform.width, height: transform.height, bytes: transform.bytes },
    };
  }
}
