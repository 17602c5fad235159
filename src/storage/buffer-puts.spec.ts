import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDependencyFailure } from '../common/dependency-failure';
import { AppConfig } from '../config/app-config';
import { BufferPuts } from './buffer-puts';
import { createS3Client } from './s3-client.factory';
import { StorageService } from './storage.service';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** Keys as users name them: any characters, slashes among them, RFC 3986's reserved and S3's awkward ones more often. */
const keys = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((part) => !part.includes('\u0000')),
      fc.constantFrom(' ', '+', '%', '!', "'", '(', ')', '*', '~', '?', '#', '&', '=', ':', '@', 'é', '😀'),
    ),
    { minLength: 1, maxLength: 10 },
  )
  .map((parts) => `puts/${parts.join('')}`);

/** Closes `server` with its idle keep-alive connections, which would otherwise hold the close for seconds. */
function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function s3Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>r-1</RequestId></Error>`;
}

interface ReceivedRequest {
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** An S3 stand-in that answers each PUT as `answer` says, after reading its body; it records every request. */
async function fakeS3(
  answer: (attempt: number, response: ServerResponse, request: ReceivedRequest) => void,
): Promise<{ server: Server; requests: ReceivedRequest[]; client: S3Client }> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = { url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) };
      requests.push(received);
      answer(requests.length, response, received);
    });
  });
  // As S3 does, a request that asks whether its body is welcome is told to send it.
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    response.writeContinue();
    server.emit('request', request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = createS3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    forcePathStyle: true,
    credentials,
    bucket: 'fake-bucket',
    presignExpiresSeconds: 60,
  });
  return { server, requests, client };
}

describe('BufferPuts', () => {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  async function withFake(answer: Parameters<typeof fakeS3>[0]) {
    const fake = await fakeS3(answer);
    closers.push(
      () => stopServer(fake.server),
      () => fake.client.destroy(),
    );
    return { ...fake, puts: new BufferPuts(fake.client, 'fake-bucket') };
  }

  it('stores any bytes under any key, read back as the SDK reads them (s3rver)', async () => {
    const config = new AppConfig(process.env);
    const storage = new StorageService(config);
    await storage.ensureBucket();
    const client = createS3Client(config.s3);
    closers.push(
      () => storage.onApplicationShutdown(),
      () => client.destroy(),
    );
    const puts = new BufferPuts(client, config.s3.bucket);
    await fc.assert(
      fc.asyncProperty(
        keys,
        fc.uint8Array({ maxLength: 4096 }),
        fc.constantFrom('application/json', 'text/plain; charset=utf-8', 'image/webp'),
        async (key, bytes, contentType) => {
          await puts.put(key, Buffer.from(bytes), contentType);
          const stored = await client.send(new GetObjectCommand({ Bucket: config.s3.bucket, Key: key }));
          expect(Buffer.from(await stored.Body!.transformToByteArray())).toEqual(Buffer.from(bytes));
          expect(stored.ContentType).toBe(contentType);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('signs for the bucket, path-style, with the region of the client', async () => {
    const { puts, requests } = await withFake((_attempt, response) => response.writeHead(200).end());
    await puts.put('reports/a b.json', Buffer.from('{"a":1}'), 'application/json');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toBe('/fake-bucket/reports/a%20b.json?x-id=PutObject');
    expect(requests[0]!.body.toString()).toBe('{"a":1}');
    expect(requests[0]!.headers['content-type']).toBe('application/json');
    expect(requests[0]!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/,
    );
    expect(requests[0]!.headers['x-amz-content-sha256']).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
  });

  it('tries again after a throttled answer and stores the object', async () => {
    const { puts, requests } = await withFake((attempt, response) =>
      attempt === 1 ? response.writeHead(503).end(s3Error('SlowDown', 'Please reduce your request rate.')) : response.writeHead(200).end(),
    );
    await puts.put('k.json', Buffer.from('x'), 'application/json');
    expect(requests).toHaveLength(2);
  });

  it('gives up after the client’s three attempts at a failing server, with an error that names S3’s code and counts as the dependency failing', async () => {
    const { puts, requests } = await withFake((_attempt, response) =>
      response.writeHead(500).end(s3Error('InternalError', 'We encountered an internal error.')),
    );
    const error = (await puts.put('k.json', Buffer.from('x'), 'application/json').catch((caught: unknown) => caught)) as S3ServiceException;
    expect(requests).toHaveLength(3);
    expect(error).toBeInstanceOf(S3ServiceException);
    expect(error).toMatchObject({
      name: 'InternalError',
      message: 'We encountered an internal error.',
      $fault: 'server',
      $metadata: { httpStatusCode: 500 },
    });
    expect(isDependencyFailure(error)).toBe(true);
  });

  it('does not try again a request S3 refuses, and the error is not a dependency failure', async () => {
    const { puts, requests } = await withFake((_attempt, response) =>
      response.writeHead(403).end(s3Error('AccessDenied', 'Access Denied')),
    );
    const error = (await puts.put('k.json', Buffer.from('x'), 'application/json').catch((caught: unknown) => caught)) as S3ServiceException;
    expect(requests).toHaveLength(1);
    expect(error).toMatchObject({ name: 'AccessDenied', message: 'Access Denied', $fault: 'client', $metadata: { httpStatusCode: 403 } });
    expect(isDependencyFailure(error)).toBe(false);
  });

  it('names an answer without an S3 error body by its status (a proxy’s 502 page)', async () => {
    const { puts } = await withFake((_attempt, response) => response.writeHead(502).end('<html>Bad Gateway</html>'));
    await expect(puts.put('k.json', Buffer.from('x'), 'application/json')).rejects.toMatchObject({
      name: 'Http502',
      message: 'S3 answered 502 to a PUT',
      $metadata: { httpStatusCode: 502 },
    });
  });

  it('fails as unreachable when nothing listens at the endpoint', async () => {
    const { server, client } = await fakeS3(() => undefined);
    await new Promise((resolve) => server.close(resolve));
    closers.push(() => client.destroy());
    const error = await new BufferPuts(client, 'fake-bucket')
      .put('k.json', Buffer.from('x'), 'application/json')
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
    expect(isDependencyFailure(error)).toBe(true);
  });

  it('sends nothing under a signal already aborted', async () => {
    const { puts, requests } = await withFake((_attempt, response) => response.writeHead(200).end());
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(puts.put('k.json', Buffer.from('x'), 'application/json', controller.signal)).rejects.toThrow();
    expect(requests).toHaveLength(0);
  });

  it('stops waiting to try again as soon as its signal aborts', async () => {
    const controller = new AbortController();
    const { puts, requests } = await withFake((_attempt, response) => {
      response.writeHead(503).end(s3Error('SlowDown', 'Please reduce your request rate.'));
      controller.abort(new Error('cancelled while waiting'));
    });
    await expect(puts.put('k.json', Buffer.from('x'), 'application/json', controller.signal)).rejects.toThrow();
    expect(requests).toHaveLength(1);
  });

  it("learns S3's clock from its Date header when a request is refused as skewed, and signs again with it", async () => {
    const serverClock = () => Date.now() + 20 * 60_000;
    const { puts, requests, client } = await withFake((_attempt, response, request) => {
      const signedAt = Date.parse(
        String(request.headers['x-amz-date']).replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
      );
      response.setHeader('date', new Date(serverClock()).toUTCString());
      if (Math.abs(serverClock() - signedAt) > 15 * 60_000) {
        response
          .writeHead(403)
          .end(s3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.'));
      } else {
        response.writeHead(200).end();
      }
    });
    await puts.put('k.json', Buffer.from('x'), 'application/json');
    expect(requests).toHaveLength(2);
    expect(client.config.systemClockOffset).toBeGreaterThan(19 * 60_000);
  });

  it('takes a 200 whose body is an S3 error for a 503 and tries again', async () => {
    const { puts, requests } = await withFake((attempt, response) =>
      attempt === 1
        ? response.writeHead(200).end(s3Error('InternalError', 'We encountered an internal error.'))
        : response.writeHead(200).end(),
    );
    await puts.put('k.json', Buffer.from('x'), 'application/json');
    expect(requests).toHaveLength(2);
  });

  it('waits as long as Retry-After asks before trying again', async () => {
    const arrivals: number[] = [];
    const { puts } = await withFake((attempt, response) => {
      arrivals.push(Date.now());
      if (attempt === 1) {
        response.writeHead(503, { 'retry-after': '1' }).end(s3Error('SlowDown', 'Please reduce your request rate.'));
      } else {
        response.writeHead(200).end();
      }
    });
    await puts.put('k.json', Buffer.from('x'), 'application/json');
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(900);
  });

  it('stops waiting to try again when its signal aborts during the wait', async () => {
    const controller = new AbortController();
    const { puts, requests } = await withFake((_attempt, response) => {
      response.writeHead(503, { 'retry-after': '20' }).end(s3Error('SlowDown', 'Please reduce your request rate.'));
      setTimeout(() => controller.abort(new Error('cancelled while waiting')), 100);
    });
    const started = Date.now();
    await expect(puts.put('k.json', Buffer.from('x'), 'application/json', controller.signal)).rejects.toThrow('cancelled while waiting');
    // Far less than the 20 s the server asked for.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(requests).toHaveLength(1);
  });

  it('asks S3 to accept a body of 2 MiB before sending it, as the SDK does, and not a small one', async () => {
    const { puts, requests } = await withFake((_attempt, response) => response.writeHead(200).end());
    await puts.put('small.bin', Buffer.alloc(1024), 'application/octet-stream');
    await puts.put('large.bin', Buffer.alloc(2 * 1024 * 1024, 7), 'application/octet-stream');
    expect(requests.map((request) => request.headers.expect)).toEqual([undefined, '100-continue']);
    // Compared as bytes: toEqual walks a Buffer element by element, seconds for 2 MiB.
    expect(requests[1]!.body.equals(Buffer.alloc(2 * 1024 * 1024, 7))).toBe(true);
  });

  it("decodes the XML of S3's message", async () => {
    const { puts } = await withFake((_attempt, response) =>
      response.writeHead(400).end(s3Error('InvalidArgument', 'Header &apos;x-amz-meta&apos; &amp; &lt;value&gt; are &quot;invalid&quot;')),
    );
    await expect(puts.put('k.json', Buffer.from('x'), 'application/json')).rejects.toThrow(`Header 'x-amz-meta' & <value> are "invalid"`);
  });
});
