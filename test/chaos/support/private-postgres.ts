import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/service-process';
import { onExit, ownDirectory, removeDirectory } from './owned-processes';

const BIN = '/usr/lib/postgresql/15/bin';

/**
 * A temporary PostgreSQL cluster of this suite's own (initdb + pg_ctl, run as user postgres) on a
 * free port, in a directory removed afterwards. pg_ctl finds the server by the pid file of this
 * cluster's data directory, so only this server is ever stopped.
 */
export class PrivatePostgres {
  private readonly forgetAtExit: () => void;

  private constructor(
    readonly port: number,
    private readonly directory: string,
  ) {
    this.forgetAtExit = onExit(() => this.pgCtl(['stop', '-m', 'immediate']));
  }

  static async start(): Promise<PrivatePostgres> {
    const directory = ownDirectory(mkdtempSync(join(tmpdir(), 'chaos-pg-')));
    const { uid, gid } = postgresUser();
    chownSync(directory, uid, gid);
    asPostgres(`${BIN}/initdb`, ['-D', join(directory, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
    const cluster = new PrivatePostgres(await freePort(), directory);
    cluster.up();
    return cluster;
  }

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/chaos`;
  }

  up(): void {
    this.pgCtl([
      'start',
      '-w',
      '-l',
      join(this.directory, 'server.log'),
      '-o',
      `-p ${this.port} -k ${this.directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
    ]);
  }

  /** An abrupt stop, as a crash or a lost host: connections break, nothing is shut down cleanly. */
  down(): void {
    this.pgCtl(['stop', '-m', 'immediate', '-w']);
  }

  stop(): void {
    try {
      this.down();
    } finally {
      this.forgetAtExit();
      removeDirectory(this.directory);
    }
  }

  private pgCtl(args: string[]): void {
    asPostgres(`${BIN}/pg_ctl`, ['-D', join(this.directory, 'data'), ...args]);
  }
}

function asPostgres(command: string, args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe' });
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}
