import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

/** The key the SDK presigns once, through a command's whole request pipeline, to show where the bucket's keys are. */
const PROBE_KEY = 'presign-probe';

/** Where requests for the bucket's keys go, and the scope they are signed for, as the SDK resolved them for the probe. */
export interface BucketEndpoint {
  protocol: string;
  hostname: string;
  port?: number;
  /** The Host header: hostname, and port when the URL has one. */
  host: string;
  signingRegion: string;
  signingService: string;
  /** The request path of `key`: after `/<bucket>/` path-style or `/` virtual-hosted (and the endpoint's own path, if it has one). */
  pathOf(key: string): string;
}

/**
 * The endpoint of `bucket` as `client` resolves it (endpoint rules, path or virtual-hosted style, region),
 * read from one URL the SDK presigns: requests that skip the SDK's per-command middleware stack still go
 * where its own would, signed for the same scope.
 */
export async function resolveBucketEndpoint(client: S3Client, bucket: string): Promise<BucketEndpoint> {
  // The probe is not a call of the traced work that happens to need it first: it makes no span.
  const presigned = await context.with(suppressTracing(context.active()), () =>
    getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: PROBE_KEY }), { expiresIn: 60 }),
  );
  const url = new URL(presigned);
  if (!url.pathname.endsWith(`/${PROBE_KEY}`)) {
    throw new Error(
      `The SDK presigned ${url.origin}${url.pathname} for key ${PROBE_KEY}: the bucket's keys are not at the end of its path`,
    );
  }
  // Directory buckets (S3 Express) sign with session credentials of their own, multi-region access points with SigV4A.
  if (url.searchParams.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || url.searchParams.has('X-Amz-S3session-Token')) {
    throw new Error(
      `Bucket ${bucket} is signed with ${url.searchParams.get('X-Amz-Algorithm')} or S3 Express sessions, which this service does not sign for`,
    );
  }
  // <access key id>/<date>/<region>/<service>/aws4_request
  const [, , signingRegion, signingService] = (url.searchParams.get('X-Amz-Credential') ?? '').split('/');
  if (!signingRegion || !signingService) {
    throw new Error(`The SDK presigned a URL without a credential scope: ${url.origin}${url.pathname}`);
  }
  const pathPrefix = url.pathname.slice(0, -PROBE_KEY.length);
  return {
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    host: url.host,
    signingRegion,
    signingService,
    pathOf: (key) => pathPrefix + key.split('/').map(escapeUri).join('/'),
  };
}

/** RFC 3986 escaping, as the SDK escapes path segments and query values. */
export function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A value resolved once and kept; a failure (credentials not there yet) is not kept, so the next call tries again. */
export function resolvedOnce<T>(resolve: () => Promise<T>): () => Promise<T> {
  let resolving: Promise<T> | undefined;
  return () => {
    resolving ??= resolve().catch((error: unknown) => {
      resolving = undefined;
      throw error;
    });
    return resolving;
  };
}
