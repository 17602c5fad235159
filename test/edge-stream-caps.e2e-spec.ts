import { IncomingMessage, request as httpRequest } from 'node:http';
import request from 'supertest';
import { closeDatabase } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

const PER_PROCESS = 3;
const PER_CLIENT = 2;

/** Clients told apart by their address: every 127.x.y.z reaches the server on 127.0.0.1. */
const CLIENT_A = '127.0.0.1';
const CLIENT_B = '127.0.0.2';
const CLIENT_C = '127.0.0.3';

interface OpenedStream {
  status: number;
  headers: IncomingMessage['headers'];
  /** The error body when the stream was refused. */
  body?: Record<string, unknown>;
  /** Resolves when the response ends or breaks off. */
  ended: Promise<void>;
  close(): void;
}

/** Opens a progress stream from `localAddress`; a refusal is read whole, an open stream is left streaming. */
function openStream(baseUrl: string, id: string, localAddress: string, headers: Record<string, string> = {}): Promise<OpenedStream> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest(`${baseUrl}/api/v1/progress/${id}/stream`, {
      localAddress,
      headers: { accept: 'text/event-stream', ...headers },
    });
    sent.on('error', reject);
    sent.on('response', (response) => {
      const ended = new Promise<void>((done) => response.on('close', () => done()));
      const stream = { status: response.statusCode!, headers: response.headers, ended, close: () => sent.destroy() };
      if (response.statusCode === 200) {
        // Read (and drop) the events, so that the response can end.
        response.resume();
        resolve(stream);
        return;
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ ...stream, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined });
      });
    });
    sent.end();
  });
}

describe('progress stream caps', () => {
  let service: TestApp;
  const open: OpenedStream[] = [];

  beforeAll(async () => {
    // APP_ROLE api: objects stay queued, so their streams stay open until the test ends them.
    service = await startTestApp({ APP_ROLE: 'api', SSE_MAX_STREAMS: String(PER_PROCESS), SSE_MAX_STREAMS_PER_CLIENT: String(PER_CLIENT) });
  });

  afterEach(async () => {
    for (const stream of open.splice(0)) {
      stream.close();
      await stream.ended;
    }
  });

  afterAll(async () => {
    await service?.close();
    await closeDatabase();
  });

  const submit = async () =>
    (
      (
        await request(service.baseUrl)
          .post('/api/v1/process')
          .send({ identifier: uniqueIdentifier('capped'), operations: ['validate'] })
          .expect(202)
      ).body as { id: string }
    ).id;

  const expectOpen = async (id: string, client: string) => {
    const stream = await openStream(service.baseUrl, id, client);
    expect(stream.status).toBe(200);
    open.push(stream);
    return stream;
  };

  /** Waits until `client` may open a stream again (the server releases a slot when it sees the connection close). */
  const openOnceFree = (id: string, client: string) =>
    waitFor(
      async () => {
        const stream = await openStream(service.baseUrl, id, client);
        if (stream.status === 200) {
          open.push(stream);
          return stream;
        }
        return false;
      },
      { what: `a stream slot for ${client}` },
    );

  it('refuses a client over its share with 429 and a process over its total with 503, both with Retry-After; closing a stream frees its slot', async () => {
    const id = await submit();
    const [first] = [await expectOpen(id, CLIENT_A), await expectOpen(id, CLIENT_A)];

    const overShare = await openStream(service.baseUrl, id, CLIENT_A);
    expect(overShare.status).toBe(429);
    expect(overShare.headers['retry-after']).toBe('5');
    expectErrorShape(overShare.body!, 429, 'too_many_streams');
    expect(overShare.body!.details).toEqual({ limit: PER_CLIENT });

    await expectOpen(id, CLIENT_B);
    for (const client of [CLIENT_B, CLIENT_C]) {
      const full = await openStream(service.baseUrl, id, client);
      expect(full.status).toBe(503);
      expect(full.headers['retry-after']).toBe('5');
      expectErrorShape(full.body!, 503, 'streams_at_capacity');
    }

    first.close();
    await first.ended;
    await openOnceFree(id, CLIENT_A);
    expect((await openStream(service.baseUrl, id, CLIENT_C)).status).toBe(503);
  });

  it('a stream that completes (its object settles) frees its slot', async () => {
    const id = await submit();
    const streams = [await expectOpen(id, CLIENT_A), await expectOpen(id, CLIENT_A)];
    expect((await openStream(service.baseUrl, id, CLIENT_A)).status).toBe(429);
    await request(service.baseUrl).post(`/api/v1/objects/${id}/cancel`).expect(200);
    await Promise.all(streams.map((stream) => stream.ended));
    const next = await submit();
    await openOnceFree(next, CLIENT_A);
    await expectOpen(next, CLIENT_A);
  });

  it('a stream broken off by the server (its object deleted; shutdown ends streams the same way) frees its slot', async () => {
    const id = await submit();
    const streams = [await expectOpen(id, CLIENT_A), await expectOpen(id, CLIENT_A)];
    await request(service.baseUrl).delete(`/api/v1/objects/${id}`).expect(204);
    await Promise.all(streams.map((stream) => stream.ended));
    const next = await submit();
    await openOnceFree(next, CLIENT_A);
    await expectOpen(next, CLIENT_A);
  });

  it('answers that are not streams hold no slot: unknown objects (404) and finished ones (204) as often as asked', async () => {
    const settled = await submit();
    await request(service.baseUrl).post(`/api/v1/objects/${settled}/cancel`).expect(200);
    for (let i = 0; i < PER_PROCESS + PER_CLIENT; i++) {
      const unknown = await openStream(service.baseUrl, '550e8400-e29b-41d4-a716-446655440000', CLIENT_A);
      expect(unknown.status).toBe(404);
      const finished = await openStream(service.baseUrl, settled, CLIENT_A, { 'last-event-id': '1000000' });
      expect(finished.status).toBe(204);
    }
    const id = await submit();
    await expectOpen(id, CLIENT_A);
    await expectOpen(id, CLIENT_A);
  });
});
