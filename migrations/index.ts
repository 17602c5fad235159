import { Migration20261122000000CreateProcessingObjects } from './Migration20261122000000CreateProcessingObjects';
import { Migration20261122010000CreateObjectEvents } from './Migration20261122010000CreateObjectEvents';
import { Migration20261204000000CreateIdempotencyKeys } from './Migration20261204000000CreateIdempotencyKeys';
import { Migration20261205000000AddApiKeysAndTeams } from './Migration20261205000000AddApiKeysAndTeams';
import { Migration20261206000000CreateWebhooks } from './Migration20261206000000CreateWebhooks';
import { Migration20261206010000AddQueuePausesAndRetentionIndex } from './Migration20261206010000AddQueuePausesAndRetentionIndex';
import { Migration20261206020000AddErrorFingerprints } from './Migration20261206020000AddErrorFingerprints';
import { Migration20261207100000AddInlineSources } from './Migration20261207100000AddInlineSources';
import { Migration20261208000000FinerIdentifierStatistics } from './Migration20261208000000FinerIdentifierStatistics';

/** Every migration, in order. Listing them here keeps migrations working from compiled and uncompiled code alike. */
export const migrationsList = [
  Migration20261122000000CreateProcessingObjects,
  Migration20261122010000CreateObjectEvents,
  Migration20261204000000CreateIdempotencyKeys,
  Migration20261205000000AddApiKeysAndTeams,
  Migration20261206000000CreateWebhooks,
  Migration20261206010000AddQueuePausesAndRetentionIndex,
  Migration20261206020000AddErrorFingerprints,
  Migration20261207100000AddInlineSources,
  Migration20261208000000FinerIdentifierStatistics,
].map((migration) => ({
  name: migration.name,
  class: migration,
}));
