export interface OperationNode {
  readonly name: string;
  readonly dependsOn: readonly string[];
}

export class OperationGraphError extends Error {}

export class UnknownOperationError extends Error {
  constructor(readonly unknown: string[]) {
    super(`Unknown operation${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  }
}

/** Refuses a graph with duplicate names, dependencies on missing operations, or cycles. */
export function assertValidGraph(nodes: readonly OperationNode[]): void {
  const byName = new Map<string, OperationNode>();
  for (const node of nodes) {
    if (byName.has(node.name)) {
      throw new OperationGraphError(`Operation '${node.name}' is registered twice`);
    }
    byName.set(node.name, node);
  }
  for (const node of nodes) {
    const missing = node.dependsOn.filter((dependency) => !byName.has(dependency));
    if (missing.length > 0) {
      throw new OperationGraphError(`Operation '${node.name}' depends on missing operation(s): ${missing.join(', ')}`);
    }
  }
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (name: string, path: string[]): void => {
    if (done.has(name)) {
      return;
    }
    if (visiting.has(name)) {
      throw new OperationGraphError(`Operations form a cycle: ${[...path.slice(path.indexOf(name)), name].join(' -> ')}`);
    }
    visiting.add(name);
    byName.get(name)!.dependsOn.forEach((dependency) => visit(dependency, [...path, name]));
    visiting.delete(name);
    done.add(name);
  };
  nodes.forEach((node) => visit(node.name, []));
}

/**
 * The requested operations plus everything they depend on, in a deterministic topological
 * order: among operations that are ready, the one listed first runs first.
 */
export function planOperations(nodes: readonly OperationNode[], requested: readonly string[]): string[] {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const unknown = [...new Set(requested.filter((name) => !byName.has(name)))];
  if (unknown.length > 0) {
    throw new UnknownOperationError(unknown);
  }
  const needed = new Set<string>();
  const include = (name: string): void => {
    if (needed.has(name)) {
      return;
    }
    needed.add(name);
    byName.get(name)!.dependsOn.forEach(include);
  };
  requested.forEach(include);

  const plan: string[] = [];
  const planned = new Set<string>();
  const candidates = nodes.filter((node) => needed.has(node.name));
  while (plan.length < candidates.length) {
    const next = candidates.find((node) => !planned.has(node.name) && node.dependsOn.every((dependency) => planned.has(dependency)));
    if (!next) {
      throw new OperationGraphError('Operations form a cycle');
    }
    plan.push(next.name);
    planned.add(next.name);
  }
  return plan;
}
