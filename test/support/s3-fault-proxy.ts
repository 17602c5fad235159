import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An S3 error answer: reachable, but not serving the request. */
export interface S3Fault {
  status: number;
  code: string;
  message: string;
  /** Which requests get it, by path; all of them when absent. */
  when?: (path: string) => boolean;
}

/**
 * An HTTP proxy in front of an S3 server that answers with `fault` the requests it matches, and forwards
 * the others: S3 reachable but failing some requests, which is not an outage, so the job's attempts are spent.
 */
export class S3FaultProxy {
  fault?: S3Fault;
  /** How many requests were answered with the fault. */
  faulted = 0;

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(target: string): Promise<S3FaultProxy> {
    const upstream = new URL(target);
    const switchboard = { proxy: undefined as S3FaultProxy | undefined };
    const server = createServer((incoming, outgoing) => {
      const proxy = switchboard.proxy!;
      const fault = proxy.fault;
      if (fault && (!fault.when || fault.when(incoming.url ?? ''))) {
        proxy.faulted++;
        incoming.resume();
        outgoing.writeHead(fault.status, { 'content-type': 'application/xml' });
        outgoing.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>${fault.message}</Message></Error>`);
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
    switchboard.proxy = new S3FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return switchboard.proxy;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }
}

/** S3 refusing the files of one operation of one object (`<identifier>/<operation>_result.json` and below): 403 AccessDenied. */
export function accessDeniedTo(identifier: string, operation: string): S3Fault {
  return { status: 403, code: 'AccessDenied', message: 'Access Denied', when: (path) => path.includes(`${identifier}/${operation}`) };
}
