import { Injectable, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Operation, OperationOutcome, ProcessingOperation, completed } from './operation';
import { OperationCatalog } from './operation-catalog';
import { OperationRegistry } from './operation-registry';

function operationClass(name: string) {
  @Operation()
  @Injectable()
  class TestOperation implements ProcessingOperation {
    readonly name = name;
    run(): Promise<OperationOutcome> {
      return Promise.resolve(completed({ ran: name }));
    }
  }
  return TestOperation;
}

const CATALOG = new OperationCatalog([
  { name: 'fetch', dependsOn: [] },
  { name: 'parse', dependsOn: ['fetch'] },
]);

async function startWith(...operations: ReturnType<typeof operationClass>[]) {
  @Module({ imports: [DiscoveryModule], providers: [...operations, OperationRegistry, { provide: OperationCatalog, useValue: CATALOG }] })
  class OperationsUnderTest {}
  const moduleRef = await Test.createTestingModule({ imports: [OperationsUnderTest] }).compile();
  await moduleRef.init();
  return moduleRef;
}

describe('OperationRegistry', () => {
  it('finds every @Operation provider through DI, by name', async () => {
    const moduleRef = await startWith(operationClass('parse'), operationClass('fetch'));
    const registry = moduleRef.get(OperationRegistry);
    expect(await registry.get('parse').run({} as never)).toEqual(completed({ ran: 'parse' }));
    expect(() => registry.get('store')).toThrow("No operation named 'store'");
    await moduleRef.close();
  });

  it('refuses to start when an operation of the catalog has no implementation, or one is not in the catalog', async () => {
    await expect(startWith(operationClass('fetch'))).rejects.toThrow(
      'Operations do not match the catalog (operation-catalog.ts): not implemented: parse',
    );
    await expect(startWith(operationClass('fetch'), operationClass('parse'), operationClass('store'))).rejects.toThrow(
      'Operations do not match the catalog (operation-catalog.ts): not in the catalog: store',
    );
  });

  it('refuses to start when two operations have one name', async () => {
    await expect(startWith(operationClass('fetch'), operationClass('parse'), operationClass('parse'))).rejects.toThrow(
      "Operation 'parse' is implemented twice",
    );
  });
});

describe('OperationCatalog', () => {
  it('plans with the service graph', () => {
    const catalog = new OperationCatalog();
    expect(catalog.names).toEqual(['validate', 'transform', 'enrich', 'analyze', 'export', 'thumbnail']);
    expect(catalog.plan(['thumbnail', 'analyze'])).toEqual(['validate', 'transform', 'enrich', 'analyze', 'thumbnail']);
  });

  it('refuses a broken graph when it is made', () => {
    expect(() => new OperationCatalog([{ name: 'parse', dependsOn: ['fetch'] }])).toThrow(
      "Operation 'parse' depends on missing operation(s): fetch",
    );
  });
});
