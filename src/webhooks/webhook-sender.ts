import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { withTimeout } from '../common/with-timeout';
import { DestinationPolicy, DestinationRefusal, parseWebhookUrl, resolveDestination } from './webhook-destination';
import { signWebhook } from './webhook-signature';

export interface WebhookRequest {
  url: string;
  secret: string;
  /** The `webhook-id`: the same on every attempt of one delivery, so receivers can drop repeats. */
  id: string;
  body: string;
}

export interface SendLimits extends DestinationPolicy {
  timeoutMs: number;
  maxResponseBytes: number;
}

export type AttemptOutcome = { delivered: true; statusCode: number } | { delivered: false; statusCode: number | null; error: string };

/** How much of a refusing answer's body is kept as its error. */
const ERROR_EXCERPT_CHARS = 200;

/**
 * One signed POST of a delivery. The host is resolved and checked first, and the connection goes to
 * that address; redirects are not followed (a 3xx is a failed attempt); the attempt as a whole has a
 * time limit, and at most `maxResponseBytes` of the answer are read.
 */
export async function sendWebhook(request: WebhookRequest, limits: SendLimits): Promise<AttemptOutcome> {
  const deadline = Date.now() + limits.timeoutMs;
  let destination;
  try {
    const url = parseWebhookUrl(request.url);
    destination = {
      url,
      resolved: await withTimeout(resolveDestination(url, limits), limits.timeoutMs, () => {
        // The lookup itself cannot be cancelled, and is left to end.
        throw new DestinationRefusal(`Resolving '${url.hostname}' took over ${limits.timeoutMs} ms`);
      }),
    };
  } catch (error) {
    if (error instanceof DestinationRefusal) {
      return { delivered: false, statusCode: null, error: error.message };
    }
    throw error;
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const { address, family } = destination.resolved;
  const pinned: LookupFunction = (_hostname, options, callback) =>
    options.all ? callback(null, [{ address, family }]) : callback(null, address, family);
  const client = destination.url.protocol === 'https:' ? https : http;
  return new Promise<AttemptOutcome>((resolve) => {
    const outgoing = client.request(destination.url, {
      method: 'POST',
      agent: false,
      lookup: pinned,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(request.body),
        'user-agent': 'object-processing-service-webhooks',
        'webhook-id': request.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(request.secret, request.id, timestamp, request.body),
      },
    });
    const timer = setTimeout(() => {
      settle({ delivered: false, statusCode: null, error: `No answer within ${limits.timeoutMs} ms` });
      outgoing.destroy();
    }, deadline - Date.now());
    let settled = false;
    function settle(outcome: AttemptOutcome): void {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      }
    }
    outgoing.once('error', (error) => settle({ delivered: false, statusCode: null, error: `Request failed: ${error.message}` }));
    outgoing.once('response', (response) => {
      const statusCode = response.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let received = 0;
      const finish = () => {
        outgoing.destroy();
        if (statusCode >= 200 && statusCode < 300) {
          settle({ delivered: true, statusCode });
          return;
        }
        const excerpt = Buffer.concat(chunks).toString('utf8').slice(0, ERROR_EXCERPT_CHARS).trim();
        const redirect = statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : '';
        settle({ delivered: false, statusCode, error: `HTTP ${statusCode}${redirect}${excerpt ? `: ${excerpt}` : ''}` });
      };
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        chunks.push(chunk);
        if (received >= limits.maxResponseBytes) {
          finish();
        }
      });
      response.once('end', finish);
      response.once('error', (error) => settle({ delivered: false, statusCode, error: `Reading the answer failed: ${error.message}` }));
    });
    outgoing.end(request.body);
  });
}
