import type { AppConfig } from '../config/app-config';

/** What one run of one operation may spend: wall time and the heap of its thread. */
export interface OperationBudget {
  timeMs: number;
  memoryMb: number;
}

/** An object's own budget, `options.budget`. */
export interface BudgetRequest {
  time_ms?: number;
  memory_mb?: number;
}

/** Why a requested budget is refused: each value above the server's maximum. */
export function budgetProblems(request: BudgetRequest | undefined, config: AppConfig): string[] {
  const { maxTimeMs, maxMemoryMb } = config.operationBudget;
  const problems: string[] = [];
  if (request?.time_ms !== undefined && request.time_ms > maxTimeMs) {
    problems.push(`options.budget.time_ms: at most ${maxTimeMs} on this server`);
  }
  if (request?.memory_mb !== undefined && request.memory_mb > maxMemoryMb) {
    problems.push(`options.budget.memory_mb: at most ${maxMemoryMb} on this server`);
  }
  return problems;
}

/** The budget of each operation of an object: its own request where it made one, the server's default otherwise, never above the maximum. */
export function budgetFor(request: BudgetRequest | undefined, config: AppConfig): OperationBudget {
  const { timeMs, maxTimeMs, memoryMb, maxMemoryMb } = config.operationBudget;
  return {
    timeMs: Math.min(request?.time_ms ?? timeMs, maxTimeMs),
    memoryMb: Math.min(request?.memory_mb ?? memoryMb, maxMemoryMb),
  };
}
