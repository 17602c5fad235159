import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const CONTRACT_PATH = join(__dirname, '..', '..', 'openapi', 'openapi.json');
const CONTRACT_ID = 'openapi.json';
const ERROR_SCHEMA = `${CONTRACT_ID}#/components/schemas/ErrorResponse`;

interface DocumentedResponse {
  content?: Record<string, { schema?: unknown }>;
}

interface ContractDocument {
  paths: Record<string, Record<string, { responses: Record<string, DocumentedResponse> }>>;
}

/** A response that the committed contract does not allow, with what the request was. */
export interface ContractViolation {
  request: string;
  status: number;
  problem: string;
}

/** `/api/v1/objects/:object` (Fastify's route) as `/api/v1/objects/{object}` (the document's path). */
function documentPath(route: string): string {
  return route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** JSON pointer escaping of one path segment. */
function pointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Checks every response of a test app against the committed openapi/openapi.json: a documented
 * operation answers only documented statuses, with a body that validates against the documented
 * JSON schema (none for 204); any other 4xx/5xx JSON answer (routing, parsing) has the one error
 * shape. Responses that bypass Fastify's send (the SSE stream, once it has started) are not seen.
 */
export class ResponseContract {
  private readonly document = JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')) as ContractDocument;
  private readonly ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  private readonly validators = new Map<string, ValidateFunction>();
  readonly violations: ContractViolation[] = [];

  constructor() {
    addFormats(this.ajv);
    this.ajv.addFormat('binary', true);
    this.ajv.addSchema(this.document, CONTRACT_ID);
  }

  /** Validates every response `fastify` sends; call before the app is initialised. */
  install(fastify: FastifyInstance): void {
    fastify.addHook('onSend', async (request, reply, payload) => {
      this.check(request, reply, payload);
      return payload;
    });
  }

  private check(request: FastifyRequest, reply: FastifyReply, payload: unknown): void {
    const status = reply.statusCode;
    const where = `${request.method} ${request.url}`;
    const method = request.method.toLowerCase();
    const path = request.routeOptions.url === undefined ? undefined : documentPath(request.routeOptions.url);
    const operation = path === undefined ? undefined : this.document.paths[path]?.[method];
    const contentType = String(reply.getHeader('content-type') ?? '')
      .split(';')[0]!
      .trim();
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
    if (!operation) {
      if (status >= 400 && contentType === 'application/json' && text !== undefined) {
        this.validate(where, status, ERROR_SCHEMA, text);
      }
      return;
    }
    const documented = operation.responses[String(status)];
    if (!documented) {
      this.violations.push({ request: where, status, problem: `status ${status} is not documented for ${method.toUpperCase()} ${path}` });
      return;
    }
    if (!documented.content) {
      if (text !== undefined && text.length > 0) {
        this.violations.push({
          request: where,
          status,
          problem: `documented without content, answered ${JSON.stringify(text.slice(0, 200))}`,
        });
      }
      return;
    }
    if (!(contentType in documented.content)) {
      this.violations.push({
        request: where,
        status,
        problem: `content type '${contentType}' is not documented (${Object.keys(documented.content).join(', ')})`,
      });
      return;
    }
    if (contentType === 'application/json' && text !== undefined) {
      const pointer = ['paths', path!, method, 'responses', String(status), 'content', contentType, 'schema'].map(pointerSegment).join('/');
      this.validate(where, status, `${CONTRACT_ID}#/${pointer}`, text);
    }
  }

  private validate(where: string, status: number, schemaRef: string, text: string): void {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      this.violations.push({ request: where, status, problem: `the body is not JSON: ${(error as Error).message}` });
      return;
    }
    let validator = this.validators.get(schemaRef);
    if (!validator) {
      validator = this.ajv.compile({ $ref: schemaRef });
      this.validators.set(schemaRef, validator);
    }
    if (!validator(body)) {
      this.violations.push({
        request: where,
        status,
        problem: `${this.ajv.errorsText(validator.errors)} in ${JSON.stringify(body).slice(0, 500)}`,
      });
    }
  }
}
