import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { Operation, ProcessingOperation } from './operation';
import { assertValidGraph, planOperations } from './operation-planner';

/** Every operation provider, found through DI; refuses to start on a broken dependency graph. */
@Injectable()
export class OperationRegistry implements OnModuleInit {
  private operations: ProcessingOperation[] = [];

  constructor(private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    const operations = this.discovery
      .getProviders({ metadataKey: Operation.KEY })
      .map((wrapper) => wrapper.instance as ProcessingOperation);
    assertValidGraph(operations);
    this.operations = operations;
  }

  get names(): string[] {
    return this.operations.map((operation) => operation.name);
  }

  get(name: string): ProcessingOperation {
    const operation = this.operations.find((candidate) => candidate.name === name);
    if (!operation) {
      throw new Error(`No operation named '${name}'`);
    }
    return operation;
  }

  plan(requested: readonly string[]): string[] {
    return planOperations(this.operations, requested);
  }
}
