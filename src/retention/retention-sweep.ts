import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ObjectNotifications } from '../notifications/object-notifications';
import { ProcessingQueue } from '../queue/processing-queue';
import { artifactKeys } from '../storage/artifact-keys';
import { StorageService } from '../storage/storage.service';
import { ExpiredObject, RetentionRepository } from './retention.repository';

/**
 * One retention run: removes settled objects that finished more than RETENTION_MAX_AGE_SECONDS ago,
 * RETENTION_BATCH_SIZE at a time until none is left. Each row is deleted first (atomically, only if
 * still settled and old enough), then its job and its S3 prefix: so a live object's artifacts are never
 * touched. A prefix that S3 refuses to clear is logged with its identifier and the run stops after
 * its batch (no more rows are deleted while S3 fails); the next run goes on.
 */
@Injectable()
export class RetentionSweep {
  private readonly logger = new Logger(RetentionSweep.name);

  constructor(
    private readonly config: AppConfig,
    private readonly expired: RetentionRepository,
    private readonly queue: ProcessingQueue,
    private readonly storage: StorageService,
    private readonly notifications: ObjectNotifications,
  ) {}

  /** Returns how many objects it removed. */
  async run(now = new Date()): Promise<number> {
    const retention = this.config.retention;
    if (!retention) {
      return 0;
    }
    const cutoff = new Date(now.getTime() - retention.maxAgeSeconds * 1000);
    let removed = 0;
    for (;;) {
      const batch = await this.expired.deleteFinishedBefore(cutoff, retention.batchSize);
      const failures = await this.removeLeftovers(batch);
      removed += batch.length;
      if (failures.length > 0) {
        throw new Error(`Retention removed ${removed} object(s), then stopped: S3 did not remove the artifacts of ${failures.join(', ')}`);
      }
      if (batch.length < retention.batchSize) {
        break;
      }
    }
    if (removed > 0) {
      this.logger.log(`Retention removed ${removed} object(s) finished before ${cutoff.toISOString()}`);
    }
    return removed;
  }

  /** The identifiers whose artifacts could not be removed. */
  private async removeLeftovers(batch: ExpiredObject[]): Promise<string[]> {
    const failures: string[] = [];
    for (const object of batch) {
      // Ends the object's open progress streams, as deleting it by hand does.
      await this.notifications.publishChange({ id: object.id, version: Number.MAX_SAFE_INTEGER });
      if (object.taskId) {
        await this.queue.removeJob(object.taskId);
      }
      // An object submitted since under the same identifier owns the prefix now.
      if (await this.expired.identifierInUse(object.identifier)) {
        continue;
      }
      try {
        await this.storage.deletePrefix(artifactKeys.objectPrefix(object.identifier));
      } catch (error) {
        this.logger.error(
          `Retention: the artifacts of ${object.identifier} (object ${object.id}, removed) stay in S3 under ${artifactKeys.objectPrefix(object.identifier)}: ${(error as Error).message}`,
        );
        failures.push(object.identifier);
      }
    }
    return failures;
  }
}
