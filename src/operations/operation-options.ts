import { z } from 'zod';
import { Ajv2020 } from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import { JsonSchemaRefusedError, checkJsonSchemaLimits, linearRegExp } from './json-schema-guard';

export const EXPORT_FORMATS = ['ndjson', 'json', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The thumbnails made unless `options.thumbnail.sizes` says otherwise (seed 003). */
export const DEFAULT_THUMBNAIL_SIZES: readonly [number, number][] = [
  [100, 100],
  [300, 300],
  [1200, 1200],
];
export const MAX_THUMBNAIL_SIDE = 4096;
export const MAX_THUMBNAIL_SIZES = 10;

const optionsSchema = z
  .object({
    validate: z
      .object({ json_schema: z.record(z.string(), z.unknown()).optional() })
      .strict()
      .optional(),
    export: z
      .object({ format: z.enum(EXPORT_FORMATS).optional() })
      .strict()
      .optional(),
    thumbnail: z
      .object({
        sizes: z
          .array(z.tuple([z.number().int().min(1).max(MAX_THUMBNAIL_SIDE), z.number().int().min(1).max(MAX_THUMBNAIL_SIDE)]))
          .min(1)
          .max(MAX_THUMBNAIL_SIZES)
          .optional(),
      })
      .strict()
      .optional(),
    budget: z
      .object({ time_ms: z.number().int().min(100).optional(), memory_mb: z.number().int().min(64).optional() })
      .strict()
      .optional(),
  })
  .strict();

export type OperationOptions = z.infer<typeof optionsSchema>;

export type OptionsCheck = { ok: true; options: OperationOptions } | { ok: false; problems: string[] };

/**
 * Checks per-operation options at submission, so a bad option is a 400 rather than a failed object;
 * a schema over a limit or with a pattern RE2 cannot run throws JsonSchemaRefusedError (its own code).
 */
export function checkOperationOptions(raw: unknown): OptionsCheck {
  const parsed = optionsSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((issue) => `options.${issue.path.join('.')}: ${issue.message}`) };
  }
  const schema = parsed.data.validate?.json_schema;
  if (schema) {
    try {
      compileJsonSchema(schema);
    } catch (error) {
      if (error instanceof JsonSchemaRefusedError) {
        throw error;
      }
      return { ok: false, problems: [`options.validate.json_schema: ${(error as Error).message}`] };
    }
  }
  return { ok: true, options: parsed.data };
}

export function readOptions(raw: Record<string, unknown>): OperationOptions {
  return optionsSchema.parse(raw);
}

/**
 * The one way a client's schema is compiled, at submission and by the validate operation: within
 * JSON_SCHEMA_LIMITS, without recursion, its patterns on RE2. Throws JsonSchemaRefusedError or Ajv's error.
 */
export function compileJsonSchema(schema: Record<string, unknown>): ValidateFunction {
  checkJsonSchemaLimits(schema);
  try {
    return clientSchemas.compile(schema);
  } finally {
    // The compiled function stays usable; the instance keeps no client schema (nor its $id) once compiled.
    clientSchemas.removeSchema(schema);
  }
}

// One instance: a new one compiles the draft 2020-12 meta-schemas again, tens of milliseconds per client schema.
// Ajv's optimisation passes over the generated code at least double the compile time of a schema and win little on one validation.
const clientSchemas = new Ajv2020({ allErrors: false, strict: false, logger: false, code: { regExp: linearRegExp, optimize: false } });
