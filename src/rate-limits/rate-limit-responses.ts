import type { HeaderObject, OpenAPIObject, ResponseObject } from '@nestjs/swagger';
import { RateLimitedError } from '../common/domain-errors';
import { errorBody } from '../common/http-exception.filter';
import { isRateLimited, isSubmission } from './rate-limits';

const HEADERS: Record<string, HeaderObject> = {
  'RateLimit-Limit': {
    description:
      "The client's limit closest to running out: requests per window, or on a submission the submissions per window when fewer of those are left",
    schema: { type: 'integer', example: 6000 },
  },
  'RateLimit-Remaining': {
    description: 'How many of that limit are left in the current window',
    schema: { type: 'integer', example: 5999 },
  },
  'RateLimit-Reset': { description: "Seconds until that limit's current window ends", schema: { type: 'integer', example: 60 } },
  'Retry-After': { description: 'Seconds until this client is answered again', schema: { type: 'integer', example: 12 } },
};

const COUNT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'];

function headerRefs(names: string[]): Record<string, { $ref: string }> {
  return Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));
}

function example(summary: string, error: RateLimitedError) {
  return { summary, value: errorBody(error.status, error.code, error.message, error.details) };
}

function rateLimitedResponse(submission: boolean): ResponseObject {
  const examples = {
    requests: example('Over RATE_LIMIT_REQUESTS requests per RATE_LIMIT_WINDOW_MS', new RateLimitedError('requests', 6000, 60_000, 12)),
    ...(submission
      ? {
          submissions: example(
            'Over RATE_LIMIT_SUBMISSIONS submissions per RATE_LIMIT_WINDOW_MS',
            new RateLimitedError('submissions', 600, 60_000, 12),
          ),
        }
      : {}),
  };
  return {
    description:
      'Too many requests from this client (its API key, or its address without one) in the window' +
      (submission ? ', or too many submissions (POST /api/v1/process and /api/v1/process/upload count against both limits)' : '') +
      '; details.limit names which. Try again after Retry-After seconds.',
    headers: headerRefs(Object.keys(HEADERS)),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' }, examples } },
  };
}

/** A 429 the route documents itself (another cap), with the rate limits' examples and headers added to it. */
function alongside(other: ResponseObject, rateLimited: ResponseObject): ResponseObject {
  const json = (response: ResponseObject) => response.content?.['application/json'];
  return {
    description: `${other.description} Or: ${rateLimited.description}`,
    headers: { ...rateLimited.headers, ...other.headers },
    content: { 'application/json': { ...json(rateLimited), examples: { ...json(other)?.examples, ...json(rateLimited)?.examples } } },
  };
}

/**
 * Adds what the rate limits answer to every operation they apply to (src/rate-limits/rate-limits.ts):
 * a 429 with Retry-After, and the RateLimit-* headers (which every answer under /api/ carries once
 * counted) on the 429 and the successes.
 */
export function documentRateLimits(document: OpenAPIObject): void {
  document.components = { ...document.components, headers: { ...document.components?.headers, ...HEADERS } };
  for (const [path, item] of Object.entries(document.paths).filter(([path]) => isRateLimited(path))) {
    for (const [method, operation] of Object.entries(item) as [string, { responses?: Record<string, ResponseObject> }][]) {
      if (!operation.responses) {
        continue;
      }
      const rateLimited = rateLimitedResponse(isSubmission(method, path));
      const other = operation.responses['429'];
      const responses: Record<string, ResponseObject> = {
        ...operation.responses,
        429: other ? alongside(other, rateLimited) : rateLimited,
      };
      for (const [status, response] of Object.entries(responses).filter(([status]) => status.startsWith('2'))) {
        responses[status] = { ...response, headers: { ...headerRefs(COUNT_HEADERS), ...response.headers } };
      }
      operation.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
    }
  }
}
