import { Injectable } from '@nestjs/common';
import { StorageService } from '../storage/storage.service';
import type { ArtifactLink } from '../operations/operation';
import type { ProcessingObject } from './processing-object.entity';

/** What an object's artifacts are read from: its source (when stored in S3) and the operations its row records as completed. */
export type ArtifactSources = Pick<ProcessingObject, 'source' | 'plan' | 'operationsStatus'>;

/** The artifacts an object has, as recorded in its row, each with a presigned download URL. */
@Injectable()
export class ArtifactsService {
  constructor(private readonly storage: StorageService) {}

  async links(object: ArtifactSources): Promise<ArtifactLink[]> {
    const entries: { operation: string; s3Url: string }[] = [];
    if (object.source?.s3_url) {
      entries.push({ operation: 'source', s3Url: object.source.s3_url });
    }
    for (const operation of object.plan) {
      const status = object.operationsStatus[operation];
      if (status?.completed && status.s3_url) {
        entries.push({ operation, s3Url: status.s3_url });
        (status.files ?? []).forEach((s3Url) => entries.push({ operation, s3Url }));
      }
    }
    return Promise.all(
      entries.map(async ({ operation, s3Url }) => {
        const key = this.storage.keyOf(s3Url);
        const { url, expiresAt } = await this.storage.presignGet(key);
        return { operation, key, s3_url: s3Url, url, expires_at: expiresAt.toISOString() };
      }),
    );
  }
}
