import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { OperationCatalogModule } from './operation-catalog';
import { OperationRegistry } from './operation-registry';
import { ValidateOperation } from './validate.operation';
import { TransformOperation } from './transform.operation';
import { EnrichOperation } from './enrich.operation';
import { AnalyzeOperation } from './analyze.operation';
import { ExportOperation } from './export.operation';
import { ThumbnailOperation } from './thumbnail.operation';

/** The operations themselves, with the libraries they use: imported by operation processes only. */
@Module({
  imports: [DiscoveryModule, OperationCatalogModule],
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
