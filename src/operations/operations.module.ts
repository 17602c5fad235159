import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { OperationRegistry } from './operation-registry';
import { ValidateOperation } from './validate.operation';
import { TransformOperation } from './transform.operation';
import { EnrichOperation } from './enrich.operation';
import { AnalyzeOperation } from './analyze.operation';
import { ExportOperation } from './export.operation';
import { ThumbnailOperation } from './thumbnail.operation';

/** Registration order is the tie-breaker of the planner: it decides the order of independent operations. */
@Module({
  imports: [DiscoveryModule],
  providers: [
    ValidateOperation,
    TransformOperation,
    EnrichOperation,
    AnalyzeOperation,
    ExportOperation,
    ThumbnailOperation,
    OperationRegistry,
  ],
  exports: [OperationRegistry],
})
export class OperationsModule {}
