import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { Operation, ProcessingOperation } from './operation';
import { OperationCatalog } from './operation-catalog';

/**
 * Every operation provider, found through DI, by name (operation processes only). Refuses to start unless they
 * are exactly the operations of the catalog, which the API and the worker plan with.
 */
@Injectable()
export class OperationRegistry implements OnModuleInit {
  private readonly operations = new Map<string, ProcessingOperation>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly catalog: OperationCatalog,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders({ metadataKey: Operation.KEY })) {
      const operation = wrapper.instance as ProcessingOperation;
      if (this.operations.has(operation.name)) {
        throw new Error(`Operation '${operation.name}' is implemented twice`);
      }
      this.operations.set(operation.name, operation);
    }
    const implemented = [...this.operations.keys()];
    const missing = this.catalog.names.filter((name) => !this.operations.has(name));
    const unknown = implemented.filter((name) => !this.catalog.names.includes(name));
    if (missing.length > 0 || unknown.length > 0) {
      throw new Error(
        `Operations do not match the catalog (operation-catalog.ts): ${[
          ...(missing.length > 0 ? [`not implemented: ${missing.join(', ')}`] : []),
          ...(unknown.length > 0 ? [`not in the catalog: ${unknown.join(', ')}`] : []),
        ].join('; ')}`,
      );
    }
  }

  get(name: string): ProcessingOperation {
    const operation = this.operations.get(name);
    if (!operation) {
      throw new Error(`No operation named '${name}'`);
    }
    return operation;
  }
}
