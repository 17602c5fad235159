import { OPERATION_GRAPH } from './operation-catalog';
import { OperationGraphError, OperationNode, UnknownOperationError, assertValidGraph, planOperations } from './operation-planner';

describe('planOperations', () => {
  it.each([
    [
      ['validate', 'transform', 'analyze'],
      ['validate', 'transform', 'enrich', 'analyze'],
    ],
    [['analyze'], ['validate', 'transform', 'enrich', 'analyze']],
    [['export'], ['validate', 'transform', 'enrich', 'analyze', 'export']],
    [['validate'], ['validate']],
    [['thumbnail'], ['validate', 'thumbnail']],
    [
      ['thumbnail', 'transform'],
      ['validate', 'transform', 'thumbnail'],
    ],
    [
      ['analyze', 'analyze', 'validate'],
      ['validate', 'transform', 'enrich', 'analyze'],
    ],
  ])('plans %j as %j', (requested, expected) => {
    expect(planOperations(OPERATION_GRAPH, requested)).toEqual(expected);
  });

  it('is deterministic whatever the order of the request', () => {
    expect(planOperations(OPERATION_GRAPH, ['thumbnail', 'export'])).toEqual(planOperations(OPERATION_GRAPH, ['export', 'thumbnail']));
  });

  it('breaks ties by the order of the graph', () => {
    const graph: OperationNode[] = [
      { name: 'b', dependsOn: [] },
      { name: 'a', dependsOn: [] },
      { name: 'c', dependsOn: ['a', 'b'] },
    ];
    expect(planOperations(graph, ['c'])).toEqual(['b', 'a', 'c']);
  });

  it('names every unknown operation once', () => {
    expect(() => planOperations(OPERATION_GRAPH, ['validate', 'resize', 'resize', 'zip'])).toThrow(
      new UnknownOperationError(['resize', 'zip']),
    );
  });
});

describe('assertValidGraph', () => {
  it('accepts the service graph', () => {
    expect(() => assertValidGraph(OPERATION_GRAPH)).not.toThrow();
  });

  it('refuses a dependency on a missing operation', () => {
    expect(() => assertValidGraph([{ name: 'a', dependsOn: ['ghost'] }])).toThrow(
      new OperationGraphError("Operation 'a' depends on missing operation(s): ghost"),
    );
  });

  it('refuses a cycle and shows it', () => {
    const graph: OperationNode[] = [
      { name: 'a', dependsOn: ['c'] },
      { name: 'b', dependsOn: ['a'] },
      { name: 'c', dependsOn: ['b'] },
    ];
    expect(() => assertValidGraph(graph)).toThrow(/cycle: a -> c -> b -> a/);
  });

  it('refuses an operation depending on itself', () => {
    expect(() => assertValidGraph([{ name: 'a', dependsOn: ['a'] }])).toThrow(/cycle: a -> a/);
  });

  it('refuses two operations with one name', () => {
    expect(() =>
      assertValidGraph([
        { name: 'a', dependsOn: [] },
        { name: 'a', dependsOn: [] },
      ]),
    ).toThrow(/registered twice/);
  });
});
