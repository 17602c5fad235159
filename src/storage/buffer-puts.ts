import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest, HttpResponse, RetryErrorType, RetryStrategyV2, SdkError, StandardRetryToken } from '@smithy/types';
import { SpanKind } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { inSpan } from '../tracing/trace-context';
import { type BucketEndpoint, resolveBucketEndpoint, resolvedOnce } from './bucket-endpoint';

/** An S3 error answer's code and message (`<Error><Code>NoSuchBucket</Code><Message>…</Message>…`). */
const ERROR_CODE = /<Code>([^<]*)<\/Code>/;
const ERROR_MESSAGE = /<Message>([^<]*)<\/Message>/;

/**
 * PUTs of bodies already in memory, as PutObjectCommand sends them, without the SDK's per-command
 * middleware stack: 280-300 µs of CPU per 1 KB object instead of 740-800, and a five-operation
 * object is seven of them. What the request is made of is the SDK's own: the bucket's endpoint as it
 * resolves it (bucket-endpoint.ts), its SigV4 signer with the client's credentials and hash, its HTTP
 * handler (agents, timeouts, abort) and its retry strategy (attempts, backoff, retry budget), which
 * classifies errors as its retry middleware does. An error answer becomes an S3ServiceException named by
 * S3's error code, with the status in $metadata, as the SDK's deserialiser makes it.
 */
export class BufferPuts {
  private readonly resolved: () => Promise<{ endpoint: BucketEndpoint; signer: SignatureV4 }>;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {
    this.resolved = resolvedOnce(async () => {
      const endpoint = await resolveBucketEndpoint(client, bucket);
      const signer = new SignatureV4({
        credentials: client.config.credentials,
        region: endpoint.signingRegion,
        service: endpoint.signingService,
        sha256: client.config.sha256,
        uriEscapePath: false,
        applyChecksum: true,
      });
      return { endpoint, signer };
    });
  }

  /** Stores `body` under `key`, in a client span named and described as the SDK's instrumentation names a PutObject. */
  async put(key: string, body: Buffer, contentType: string, signal?: AbortSignal): Promise<void> {
    const { endpoint, signer } = await this.resolved();
    const attributes = {
      'rpc.system': 'aws-api',
      'rpc.service': 'S3',
      'rpc.method': 'PutObject',
      'cloud.region': endpoint.signingRegion,
      'aws.s3.bucket': this.bucket,
      'aws.s3.key': key,
    };
    await inSpan('S3.PutObject', { kind: SpanKind.CLIENT, attributes }, async (span) => {
      const request: HttpRequest = {
        method: 'PUT',
        protocol: endpoint.protocol,
        hostname: endpoint.hostname,
        port: endpoint.port,
        path: endpoint.pathOf(key),
        query: { 'x-id': 'PutObject' },
        headers: { host: endpoint.host, 'content-type': contentType, 'content-length': String(body.length) },
        body,
      };
      const answer = await this.withRetries(signal, async (attempts) => this.send(await signer.sign(request), attempts, signal));
      span.setAttributes({ 'http.response.status_code': answer.statusCode, 'aws.request_id': answer.requestId ?? '' });
    });
  }

  /** Runs `attempt` until it succeeds or the client's retry strategy (its attempts, backoff and retry budget) gives up. */
  private async withRetries<T>(signal: AbortSignal | undefined, attempt: (attempts: number) => Promise<T>): Promise<T> {
    const retries = await this.retryStrategy();
    let token = await retries.acquireInitialRetryToken('');
    for (;;) {
      try {
        const result = await attempt(token.getRetryCount() + 1);
        retries.recordSuccess(token);
        return result;
      } catch (error) {
        if (signal?.aborted) {
          throw error;
        }
        try {
          token = await retries.refreshRetryTokenForRetry(token, { errorType: retryErrorType(error), error: error as SdkError });
        } catch {
          // Out of attempts or of retry budget: the request's own error is what the caller is told.
          throw error;
        }
        await sleep((token as StandardRetryToken).getRetryDelay(), undefined, { signal });
      }
    }
  }

  /** The client's retry strategy; S3Client builds one with tokens (StandardRetryStrategy) from maxAttempts. */
  private async retryStrategy(): Promise<RetryStrategyV2> {
    const strategy = await this.client.config.retryStrategy();
    if (!('acquireInitialRetryToken' in strategy)) {
      throw new Error('The S3 client has a retry strategy without retry tokens');
    }
    return strategy;
  }

  private async send(request: HttpRequest, attempts: number, signal?: AbortSignal): Promise<{ statusCode: number; requestId?: string }> {
    const handler = this.client.config.requestHandler as {
      handle(request: HttpRequest, options: { abortSignal?: AbortSignal }): Promise<{ response: HttpResponse }>;
    };
    const { response } = await handler.handle(request, { abortSignal: signal });
    const answer = await readAll(response.body as Readable);
    const requestId = response.headers['x-amz-request-id'];
    if (response.statusCode >= 200 && response.statusCode < 300) {
      return { statusCode: response.statusCode, requestId };
    }
    const text = answer.toString('utf8');
    throw new S3ServiceException({
      name: ERROR_CODE.exec(text)?.[1] || `Http${response.statusCode}`,
      $fault: response.statusCode >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode: response.statusCode, requestId, attempts },
      message: ERROR_MESSAGE.exec(text)?.[1] || `S3 answered ${response.statusCode} to a PUT`,
    });
  }
}

/** What the SDK's retry middleware tells its strategy about an error. */
function retryErrorType(error: unknown): RetryErrorType {
  const sdkError = error as SdkError;
  if (isThrottlingError(sdkError)) {
    return 'THROTTLING';
  }
  if (isTransientError(sdkError)) {
    return 'TRANSIENT';
  }
  return isServerError(sdkError) ? 'SERVER_ERROR' : 'CLIENT_ERROR';
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
