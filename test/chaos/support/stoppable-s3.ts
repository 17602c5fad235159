import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/service-process';
import { ownDirectory, removeDirectory } from './owned-processes';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startLocalS3 } = require('../../../scripts/local-s3') as {
  startLocalS3: (options: { directory: string; port: number }) => Promise<LocalS3>;
};

interface LocalS3 {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** An s3rver on a fixed free port that can be stopped and started again with its files kept. */
export class StoppableS3 {
  private server?: LocalS3;

  private constructor(
    readonly port: number,
    private readonly directory: string,
  ) {}

  static async start(): Promise<StoppableS3> {
    const s3 = new StoppableS3(await freePort(), ownDirectory(mkdtempSync(join(tmpdir(), 'chaos-s3-'))));
    await s3.up();
    return s3;
  }

  get env(): Record<string, string> {
    return {
      S3_ENDPOINT: `http://127.0.0.1:${this.port}`,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    };
  }

  async up(): Promise<void> {
    this.server = await startLocalS3({ directory: this.directory, port: this.port });
  }

  async down(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  async stop(): Promise<void> {
    await this.down();
    removeDirectory(this.directory);
  }
}
