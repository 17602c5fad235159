import { createHmac } from 'node:crypto';
import { IncomingHttpHeaders, ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status the receiver answered with; null while the request is held. */
  answeredWith: number | null;
}

/** What the receiver does with the n-th request (from 0) to a path: answer with a status (a 3xx points to /redirected), or hold it unanswered. */
export type Responder = (nth: number) => number | 'hold';

/** A webhook endpoint on 127.0.0.1 that records every request and answers as each path is told to (200 by default). */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private readonly responders = new Map<string, Responder>();
  private readonly held = new Set<ServerResponse>();
  private readonly server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      const nth = this.received.filter((earlier) => earlier.path === path).length;
      const record: ReceivedWebhook = { path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), answeredWith: null };
      this.received.push(record);
      const answer = (this.responders.get(path) ?? (() => 200))(nth);
      if (answer === 'hold') {
        this.held.add(response);
        response.once('close', () => this.held.delete(response));
        return;
      }
      record.answeredWith = answer;
      const redirect = answer >= 300 && answer < 400 ? { location: '/redirected' } : {};
      response
        .writeHead(answer, { 'content-type': 'text/plain', ...redirect })
        .end(answer >= 300 ? `refused by the test receiver (${answer})` : 'ok');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  answer(path: string, responder: Responder): void {
    this.responders.set(path, responder);
  }

  to(path: string): ReceivedWebhook[] {
    return this.received.filter((request) => request.path === path);
  }

  heldCount(): number {
    return this.held.size;
  }

  async close(): Promise<void> {
    this.held.forEach((response) => response.destroy());
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }
}

/** Verifies a delivery as a receiver following the Standard Webhooks specification would, independently of the service's code. */
export function signatureIsValid(secret: string, request: ReceivedWebhook): boolean {
  const id = request.headers['webhook-id'];
  const timestamp = request.headers['webhook-timestamp'];
  const signatures = request.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string' || !/^\d+$/.test(timestamp)) {
    return false;
  }
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest('base64');
  return signatures.split(' ').includes(`v1,${expected}`);
}
