import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of an S3 server that, while `refusing` is set, answers every request with
 * 403 AccessDenied: S3 reachable but refusing, which is not an outage, so the job's attempts are spent.
 */
export class S3RefusingProxy {
  refusing = false;

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(target: string): Promise<S3RefusingProxy> {
    const upstream = new URL(target);
    const switchboard = { proxy: undefined as S3RefusingProxy | undefined };
    const server = createServer((incoming, outgoing) => {
      if (switchboard.proxy?.refusing) {
        incoming.resume();
        outgoing.writeHead(403, { 'content-type': 'application/xml' });
        outgoing.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
        return;
      }
      const forwarded = request(
        { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forwarded.on('error', (error) => outgoing.destroy(error));
      incoming.pipe(forwarded);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    switchboard.proxy = new S3RefusingProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return switchboard.proxy;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }
}
