import { Injectable, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Operation, OperationOutcome, ProcessingOperation, completed } from './operation';
import { OperationRegistry } from './operation-registry';

function operationClass(name: string, dependsOn: string[]) {
  @Operation()
  @Injectable()
  class TestOperation implements ProcessingOperation {
    readonly name = name;
    readonly dependsOn = dependsOn;
    run(): Promise<OperationOutcome> {
      return Promise.resolve(completed({}));
    }
  }
  return TestOperation;
}

async function startWith(...operations: ReturnType<typeof operationClass>[]) {
  @Module({ imports: [DiscoveryModule], providers: [...operations, OperationRegistry] })
  class OperationsUnderTest {}
  const moduleRef = await Test.createTestingModule({ imports: [OperationsUnderTest] }).compile();
  await moduleRef.init();
  return moduleRef;
}

describe('OperationRegistry', () => {
  it('finds every @Operation provider through DI and plans with them', async () => {
    const moduleRef = await startWith(operationClass('fetch', []), operationClass('parse', ['fetch']), operationClass('store', ['parse']));
    const registry = moduleRef.get(OperationRegistry);
    expect(registry.names).toEqual(['fetch', 'parse', 'store']);
    expect(registry.plan(['store'])).toEqual(['fetch', 'parse', 'store']);
    await moduleRef.close();
  });

  it('refuses to start when an operation depends on one that is not registered', async () => {
    await expect(startWith(operationClass('parse', ['fetch']))).rejects.toThrow("Operation 'parse' depends on missing operation(s): fetch");
  });

  it('refuses to start when operations form a cycle', async () => {
    await expect(startWith(operationClass('a', ['b']), operationClass('b', ['a']))).rejects.toThrow(/cycle/);
  });
});
