import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import request from 'supertest';
import { AppConfig } from '../src/config/app-config';
import { createS3Client } from '../src/storage/s3-client.factory';
import { listS3Keys } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { openSse } from './support/sse';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';
import type { components } from './support/api-types';

/** Short timeouts, so that the tests wait seconds; the defaults are minutes (see .env.example). */
const TIMEOUTS = {
  HTTP_REQUEST_TIMEOUT_MS: '1500',
  HTTP_HEADERS_TIMEOUT_MS: '1000',
  HTTP_IDLE_TIMEOUT_MS: '800',
  HTTP_KEEP_ALIVE_TIMEOUT_MS: '500',
};
const LONGEST_TIMEOUT_MS = 1500;

interface Dripped {
  /** What the server answered before it closed the connection ('' for nothing). */
  answer: string;
  /** How many bytes of the drip had been sent when the connection closed. */
  sentBytes: number;
}

/** Sends `head` at once, then `drip` one byte every 200 ms, until the server closes the connection. */
function drip(baseUrl: string, head: string, drip: string): Promise<Dripped> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < drip.length && socket.writable) {
        socket.write(drip[sent++]!);
      }
    }, 200);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.setTimeout(20_000, () => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error('the server did not close the connection within 20 s'));
    });
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer: Buffer.concat(chunks).toString('utf8'), sentBytes: sent });
    });
    socket.write(head);
  });
}

function parseAnswer(answer: string): { status: number; headers: string; body: Record<string, unknown> } {
  const [head, body] = answer.split('\r\n\r\n');
  return { status: Number(head!.split(' ')[1]), headers: head!.toLowerCase(), body: JSON.parse(body!) as Record<string, unknown> };
}

async function rowsWithIdentifier(identifier: string): Promise<unknown[]> {
  return query('select id from processing_objects where identifier = $1', [identifier]);
}

/** Unfinished multipart uploads under a prefix, or 'unsupported' where the S3 server has no ListMultipartUploads (s3rver). */
async function unfinishedUploads(prefix: string): Promise<string[] | 'unsupported'> {
  const s3 = new AppConfig(process.env).s3;
  const client = createS3Client(s3);
  try {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: prefix }));
    return (page.Uploads ?? []).map((upload) => upload.Key!);
  } catch (error) {
    if ((error as { name?: string }).name === 'NotImplemented') {
      return 'unsupported';
    }
    throw error;
  } finally {
    client.destroy();
  }
}

describe('HTTP timeouts', () => {
  let service: TestApp;

  beforeAll(async () => {
    // APP_ROLE api: objects stay queued, so a stream stays open until the test settles its object.
    service = await startTestApp({ APP_ROLE: 'api', ...TIMEOUTS });
  });

  afterAll(async () => {
    await service?.close();
    await closeDatabase();
  });

  it('are the documented defaults unless set: long enough for a 100 MiB upload on a slow link', () => {
    expect(new AppConfig({}).httpTimeouts).toEqual({ requestMs: 600_000, headersMs: 30_000, idleMs: 60_000, keepAliveMs: 72_000 });
  });

  it('a JSON body trickled at a byte at a time gets 408 request_timeout in the one error shape, the connection closes, and nothing is created', async () => {
    const identifier = uniqueIdentifier('slow-body');
    const body = JSON.stringify({ identifier, operations: ['validate'], metadata: { padding: 'x'.repeat(200) } });
    const { host } = new URL(service.baseUrl);
    const result = await drip(
      service.baseUrl,
      `POST /api/v1/process HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
    );
    expect(result.sentBytes).toBeLessThan(body.length);
    const answer = parseAnswer(result.answer);
    expect(answer.status).toBe(408);
    expectErrorShape(answer.body, 408, 'request_timeout');
    expect(answer.headers).toContain('x-content-type-options: nosniff');
    expect(await rowsWithIdentifier(identifier)).toEqual([]);
  });

  it('headers trickled a byte at a time get 408 request_timeout', async () => {
    const result = await drip(service.baseUrl, 'GET /health/live HTTP/1.1\r\n', `Host: x\r\nX-Padding: ${'p'.repeat(100)}\r\n\r\n`);
    const answer = parseAnswer(result.answer);
    expect(answer.status).toBe(408);
    expectErrorShape(answer.body, 408, 'request_timeout');
  });

  it('an idle keep-alive connection is closed by the server', async () => {
    const { hostname, port } = new URL(service.baseUrl);
    const socket = connect(Number(port), hostname);
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const closed = new Promise<void>((resolve, reject) => {
      socket.on('close', () => resolve());
      socket.setTimeout(20_000, () => reject(new Error('the server kept the idle connection for 20 s')));
    });
    socket.write(`GET /health/live HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`);
    await closed;
    socket.destroy();
    // Answered, kept open for the next request, then closed by the server as idle.
    expect(Buffer.concat(received).toString('utf8')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: keep-alive\r\n/i);
  });

  it('a stalled upload loses its connection; its pending object and S3 upload go, and its identifier is free again', async () => {
    const identifier = uniqueIdentifier('stalled-upload');
    const boundary = `----stall${randomUUID().replace(/-/g, '')}`;
    const upload = httpRequest(`${service.baseUrl}/api/v1/process`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    const ended = new Promise<string>((resolve) => {
      upload.on('error', (error) => resolve(`error ${(error as NodeJS.ErrnoException).code}`));
      upload.on('response', (response) => {
        response.resume();
        response.on('end', () => resolve(`answered ${response.statusCode}`));
      });
    });
    upload.write(`--${boundary}\r\ncontent-disposition: form-data; name="identifier"\r\n\r\n${identifier}\r\n`);
    upload.write(`--${boundary}\r\ncontent-disposition: form-data; name="operations"\r\n\r\nvalidate\r\n`);
    upload.write(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.csv"\r\ncontent-type: text/csv\r\n\r\n`);
    upload.write(`id,name\n${Array.from({ length: 2000 }, (_, i) => `${i},name-${i}`).join('\n')}\n`);
    // The object exists (pending) while its file streams in; then the client sends nothing more, and keeps the connection.
    await waitFor(async () => (await rowsWithIdentifier(identifier)).length === 1, { what: 'the pending row' });
    expect(await ended).toMatch(/^error (ECONNRESET|EPIPE)$|^answered 408$/);
    await waitFor(async () => (await rowsWithIdentifier(identifier)).length === 0, { what: 'the pending row to go' });
    expect(await listS3Keys(`${identifier}/`)).toEqual([]);
    const uploads = await unfinishedUploads(`${identifier}/`);
    if (uploads !== 'unsupported') {
      expect(uploads).toEqual([]);
    }

    const again = await request(service.baseUrl)
      .post('/api/v1/process')
      .field('identifier', identifier)
      .field('operations', 'validate')
      .attach('file', Buffer.from('id,name\n1,a\n'), { filename: 'a.csv', contentType: 'text/csv' })
      .expect(202);
    expect((again.body as components['schemas']['SubmissionResponseDto']).identifier).toBe(identifier);
  });

  it('progress streams outlive every timeout: a stream idle for longer still gets the next event and completes', async () => {
    const { id } = (
      await request(service.baseUrl)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier('long-stream'), operations: ['validate'] })
        .expect(202)
    ).body as { id: string };
    const stream = await openSse(`${service.baseUrl}/api/v1/progress/${id}/stream`);
    try {
      expect(stream.status).toBe(200);
      await waitFor(() => stream.events.length === 1, { what: 'the snapshot' });
      // Nothing happens on the stream for three times the longest timeout (heartbeats come every 15 s).
      await new Promise((resolve) => setTimeout(resolve, 3 * LONGEST_TIMEOUT_MS));
      await request(service.baseUrl).post(`/api/v1/objects/${id}/cancel`).expect(200);
      expect(await stream.ended).toBe('completed');
      expect(stream.events.map((event) => (JSON.parse(event.data!) as { state: string }).state)).toEqual(['queued', 'cancelled']);
    } finally {
      stream.close();
    }
  });
});
