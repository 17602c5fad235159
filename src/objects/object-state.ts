import { InvalidTransitionError } from '../common/domain-errors';

export const OBJECT_STATES = ['pending', 'queued', 'processing', 'completed', 'failed', 'cancelled'] as const;
export type ObjectState = (typeof OBJECT_STATES)[number];

/** The lifecycle of an object. Every state change in the service is checked against this table. */
const TRANSITIONS: Readonly<Record<ObjectState, readonly ObjectState[]>> = {
  pending: ['queued', 'cancelled'],
  queued: ['processing', 'cancelled'],
  processing: ['completed', 'failed', 'cancelled'],
  failed: ['queued'],
  completed: [],
  cancelled: [],
};

export function canTransition(from: ObjectState, to: ObjectState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: ObjectState, to: ObjectState): void {
  if (!canTransition(from, to)) {
    throw new InvalidTransitionError(from, to);
  }
}

/** The states from which `to` may be reached. */
export function statesLeadingTo(to: ObjectState): ObjectState[] {
  return OBJECT_STATES.filter((from) => canTransition(from, to));
}

export function isTerminal(state: ObjectState): boolean {
  return TRANSITIONS[state].length === 0;
}

/** No worker acts on a settled object: it is terminal, or failed and waiting for a retry. */
export function isSettled(state: ObjectState): boolean {
  return isTerminal(state) || state === 'failed';
}

export const SETTLED_STATES: readonly ObjectState[] = OBJECT_STATES.filter(isSettled);
