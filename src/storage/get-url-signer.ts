import { S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { type BucketEndpoint, escapeUri, resolveBucketEndpoint, resolvedOnce } from './bucket-endpoint';

/**
 * Presigns GET URLs for the keys of one bucket. getSignedUrl runs a command's whole middleware stack
 * (endpoint rules, serialisation, user agent, retry set-up) for each URL: about 400 µs of CPU, against
 * about 50 for the signature itself, and an export presigns every artifact of its object. So each URL is
 * the request for its key at the bucket's endpoint, signed by the SDK's presigner (the class getSignedUrl
 * signs with). Its tests check that it gives getSignedUrl's URL for any key.
 */
export class GetUrlSigner {
  private readonly resolved: () => Promise<{ endpoint: BucketEndpoint; presigner: S3RequestPresigner }>;

  constructor(client: S3Client, bucket: string) {
    this.resolved = resolvedOnce(async () => {
      const endpoint = await resolveBucketEndpoint(client, bucket);
      const region = endpoint.signingRegion;
      const presigner = new S3RequestPresigner({
        ...client.config,
        signingName: endpoint.signingService,
        region: () => Promise.resolve(region),
      });
      return { endpoint, presigner };
    });
  }

  async sign(key: string, expiresIn: number, signingDate?: Date): Promise<string> {
    const { endpoint, presigner } = await this.resolved();
    const { protocol, hostname, port, signingRegion, signingService } = endpoint;
    const request = { method: 'GET', protocol, hostname, port, path: endpoint.pathOf(key), query: { 'x-id': 'GetObject' }, headers: {} };
    const signed = await presigner.presign(request, { expiresIn, signingDate, signingRegion, signingService });
    return `${protocol}//${endpoint.host}${signed.path}?${queryString(signed.query as Record<string, string>)}`;
  }
}

function queryString(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((name) => `${escapeUri(name)}=${escapeUri(query[name]!)}`)
    .join('&');
}
