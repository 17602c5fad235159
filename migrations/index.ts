import { Migration20261122000000CreateProcessingObjects } from './Migration20261122000000CreateProcessingObjects';

/** Every migration, in order. Listing them here keeps migrations working from compiled and uncompiled code alike. */
export const migrationsList = [
  { name: Migration20261122000000CreateProcessingObjects.name, class: Migration20261122000000CreateProcessingObjects },
];
