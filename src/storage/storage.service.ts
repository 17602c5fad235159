import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppConfig } from '../config/app-config';
import { BufferPuts } from './buffer-puts';
import { GetUrlSigner } from './get-url-signer';
import { createS3Client } from './s3-client.factory';

/** Parts of streamed uploads: S3's smallest part size, and two in flight, which keep up with what an operation produces; each part is held in memory until sent. */
export const UPLOAD_PART_SIZE = 5 * 1024 * 1024;
export const UPLOAD_QUEUE_SIZE = 2;

/** The largest object one CopyObject request copies. */
const COPY_OBJECT_MAX_BYTES = 5 * 1024 ** 3;

export interface StoredObject {
  key: string;
  s3Url: string;
  size: number;
}

/** Thin adapter over the artifact bucket: no business logic, only S3 calls. */
@Injectable()
export class StorageService implements OnApplicationShutdown {
  private readonly logger = new Logger(StorageService.name);
  private readonly client: S3Client;
  /** The client of the S3 server's public address, for download URLs; presigning makes no request, it only computes the URL. */
  private readonly presigner: S3Client;
  private readonly downloadUrls: GetUrlSigner;
  private readonly bufferPuts: BufferPuts;
  readonly bucket: string;

  constructor(private readonly config: AppConfig) {
    this.client = createS3Client(config.s3);
    this.bucket = config.s3.bucket;
    this.presigner = config.s3.publicEndpoint ? createS3Client({ ...config.s3, endpoint: config.s3.publicEndpoint }) : this.client;
    this.downloadUrls = new GetUrlSigner(this.presigner, this.bucket);
    this.bufferPuts = new BufferPuts(this.client, this.bucket);
  }

  s3Url(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  keyOf(s3Url: string): string {
    const prefix = `s3://${this.bucket}/`;
    if (!s3Url.startsWith(prefix)) {
      throw new Error(`${s3Url} is not in bucket ${this.bucket}`);
    }
    return s3Url.slice(prefix.length);
  }

  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      if (!(error instanceof S3ServiceException) || error.$metadata.httpStatusCode !== 404) {
        throw error;
      }
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
        this.logger.log(`Created bucket ${this.bucket}`);
      } catch (creationError) {
        // Processes starting together race to create it; the bucket existing is all that matters.
        if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((creationError as Error).name)) {
          throw creationError;
        }
      }
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
  }

  /** Stores `value` as indented JSON; returns the bytes written too. */
  async putJson(key: string, value: unknown, signal?: AbortSignal): Promise<StoredObject & { body: Buffer }> {
    const body = Buffer.from(JSON.stringify(value, null, 2));
    return { ...(await this.putBuffer(key, body, 'application/json', signal)), body };
  }

  async putBuffer(key: string, body: Buffer, contentType: string, signal?: AbortSignal): Promise<StoredObject> {
    await this.bufferPuts.put(key, body, contentType, signal);
    return { key, s3Url: this.s3Url(key), size: body.length };
  }

  /**
   * Streams `body` to S3 in parts, so memory stays flat whatever the size. A body of at most
   * `keepUpTo` bytes is also returned as `body`, for callers that read it again soon.
   */
  async putStream(
    key: string,
    body: Readable,
    contentType: string,
    signal?: AbortSignal,
    keepUpTo = 0,
  ): Promise<StoredObject & { body?: Buffer }> {
    // Counted in the pipeline rather than by a 'data' listener, which would switch the body to flowing mode and defeat backpressure.
    let size = 0;
    let kept: Buffer[] | undefined = keepUpTo > 0 ? [] : undefined;
    const counted = new PassThrough({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (kept) {
          if (size <= keepUpTo) {
            kept.push(chunk);
          } else {
            kept = undefined;
          }
        }
        done(null, chunk);
      },
    });
    if (signal?.aborted) {
      body.destroy();
      throw signal.reason;
    }
    const controller = new AbortController();
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: counted, ContentType: contentType },
      partSize: UPLOAD_PART_SIZE,
      queueSize: UPLOAD_QUEUE_SIZE,
      abortController: controller,
    });
    const uploaded = upload.done().catch((error: unknown) => {
      counted.destroy();
      throw error;
    });
    // Removed once the upload ends: a signal that outlives many uploads (an operation process's) would otherwise
    // collect a listener per upload, and every later listener added to it would cost more.
    const abort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await Promise.all([pipeline(body, counted), uploaded]);
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    return { key, s3Url: this.s3Url(key), size, ...(kept ? { body: Buffer.concat(kept) } : {}) };
  }

  /** Copies `from` to `to` inside the bucket: server-side up to S3's 5 GiB limit of one CopyObject, streamed beyond it. */
  async copy(from: string, to: string, signal?: AbortSignal): Promise<StoredObject> {
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: from }), { abortSignal: signal });
    const size = head.ContentLength ?? 0;
    if (size > COPY_OBJECT_MAX_BYTES) {
      return this.putStream(to, await this.getStream(from, signal), head.ContentType ?? 'application/octet-stream', signal);
    }
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: to,
        CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
      }),
      {
        abortSignal: signal,
      },
    );
    return { key: to, s3Url: this.s3Url(to), size };
  }

  async getStream(key: string, signal?: AbortSignal): Promise<Readable> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
    return response.Body as Readable;
  }

  async getBuffer(key: string, signal?: AbortSignal): Promise<Buffer> {
    const stream = await this.getStream(key, signal);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async presignGet(key: string): Promise<{ url: string; expiresAt: Date }> {
    const expiresIn = this.config.s3.presignExpiresSeconds;
    const url = await this.downloadUrls.sign(key, expiresIn);
    return { url, expiresAt: new Date(Date.now() + expiresIn * 1000) };
  }

  async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: continuationToken }),
      );
      keys.push(...(page.Contents ?? []).flatMap((entry) => (entry.Key ? [entry.Key] : [])));
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    return keys;
  }

  async deleteKeys(keys: string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += 1000) {
      const batch = keys.slice(start, start + 1000);
      await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = await this.listKeys(prefix);
    await this.deleteKeys(keys);
    return keys.length;
  }

  onApplicationShutdown(): void {
    this.client.destroy();
    this.presigner.destroy();
  }
}
