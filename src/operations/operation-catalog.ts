import { Module } from '@nestjs/common';
import { OperationNode, assertValidGraph, planOperations } from './operation-planner';

/**
 * The operations a plan may hold and what each depends on, in registration order (the planner's tie-breaker).
 * It is kept apart from the operations themselves so that the API and the worker's own process plan without
 * loading the libraries operations use (sharp, csv-parse, stream-json): only operation processes load those,
 * and they refuse to start unless their operations are exactly these (OperationRegistry).
 */
export const OPERATION_GRAPH: readonly OperationNode[] = [
  { name: 'validate', dependsOn: [] },
  { name: 'transform', dependsOn: ['validate'] },
  { name: 'enrich', dependsOn: ['transform'] },
  { name: 'analyze', dependsOn: ['enrich'] },
  { name: 'export', dependsOn: ['analyze'] },
  { name: 'thumbnail', dependsOn: ['validate'] },
];

/** Plans with the operation graph; refuses a broken graph when it is made. */
export class OperationCatalog {
  constructor(private readonly graph: readonly OperationNode[] = OPERATION_GRAPH) {
    assertValidGraph(graph);
  }

  get names(): string[] {
    return this.graph.map((operation) => operation.name);
  }

  plan(requested: readonly string[]): string[] {
    return planOperations(this.graph, requested);
  }
}

@Module({ providers: [{ provide: OperationCatalog, useFactory: () => new OperationCatalog() }], exports: [OperationCatalog] })
export class OperationCatalogModule {}
