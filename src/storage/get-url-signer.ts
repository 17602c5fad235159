import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner, getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** The key the SDK presigns once, through a command's whole request pipeline, to show where the bucket's keys are. */
const PROBE_KEY = 'presign-probe';

/** Where a GET of the bucket's keys goes, and the scope it is signed for, as the SDK resolved them for the probe. */
interface BucketRequest {
  protocol: string;
  hostname: string;
  port?: number;
  /** The path up to a key: `/<bucket>/` path-style, `/` virtual-hosted, after the endpoint's own path if it has one. */
  pathPrefix: string;
  /** Query parameters the SDK adds to every GetObject (x-id), without those of the signature. */
  query: Record<string, string>;
  presigner: S3RequestPresigner;
  signingRegion: string;
  signingService: string;
}

/**
 * Presigns GET URLs for the keys of one bucket. getSignedUrl runs a command's whole middleware stack
 * (endpoint rules, serialisation, user agent, retry set-up) for each URL: about 400 µs of CPU, against
 * about 40 for the signature itself, and an export presigns every artifact of its object. So getSignedUrl
 * presigns one URL, which shows the bucket's endpoint and signing scope; every URL after it is that
 * request for its own key, signed by the SDK's presigner (the class getSignedUrl signs with). Its tests
 * check that it gives getSignedUrl's URL for any key.
 */
export class GetUrlSigner {
  private bucketRequest?: Promise<BucketRequest>;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async sign(key: string, expiresIn: number, signingDate?: Date): Promise<string> {
    const { presigner, protocol, hostname, port, pathPrefix, query, signingRegion, signingService } = await this.resolved();
    const request = {
      method: 'GET',
      protocol,
      hostname,
      port,
      path: pathPrefix + key.split('/').map(escapeUri).join('/'),
      query: { ...query },
      headers: {},
    };
    const signed = await presigner.presign(request, { expiresIn, signingDate, signingRegion, signingService });
    return `${protocol}//${hostname}${port === undefined ? '' : `:${port}`}${signed.path}?${queryString(signed.query as Record<string, string>)}`;
  }

  /** The probe's request, resolved once; a failed probe (credentials not there yet) is tried again by the next URL. */
  private resolved(): Promise<BucketRequest> {
    this.bucketRequest ??= this.probe().catch((error: unknown) => {
      this.bucketRequest = undefined;
      throw error;
    });
    return this.bucketRequest;
  }

  private async probe(): Promise<BucketRequest> {
    const url = new URL(await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: PROBE_KEY }), { expiresIn: 60 }));
    if (!url.pathname.endsWith(`/${PROBE_KEY}`)) {
      throw new Error(
        `The SDK presigned ${url.origin}${url.pathname} for key ${PROBE_KEY}: the bucket's keys are not at the end of its path`,
      );
    }
    // <access key id>/<date>/<region>/<service>/aws4_request
    const [, , signingRegion, signingService] = (url.searchParams.get('X-Amz-Credential') ?? '').split('/');
    if (!signingRegion || !signingService) {
      throw new Error(`The SDK presigned a URL without a credential scope: ${url.origin}${url.pathname}`);
    }
    const query = Object.fromEntries([...url.searchParams].filter(([name]) => !/^x-amz-/i.test(name)));
    return {
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      pathPrefix: url.pathname.slice(0, -PROBE_KEY.length),
      query,
      presigner: new S3RequestPresigner({
        ...this.client.config,
        signingName: signingService,
        region: () => Promise.resolve(signingRegion),
      }),
      signingRegion,
      signingService,
    };
  }
}

/** RFC 3986 escaping, as the SDK escapes path segments and query values. */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

function queryString(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((name) => `${escapeUri(name)}=${escapeUri(query[name]!)}`)
    .join('&');
}
