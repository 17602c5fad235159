import { InvalidTransitionError } from '../common/domain-errors';
import { OBJECT_STATES, ObjectState, assertTransition, canTransition, isSettled, isTerminal, statesLeadingTo } from './object-state';

const ALLOWED: [ObjectState, ObjectState][] = [
  ['pending', 'queued'],
  ['pending', 'cancelled'],
  ['queued', 'processing'],
  ['queued', 'cancelled'],
  ['processing', 'completed'],
  ['processing', 'failed'],
  ['processing', 'cancelled'],
  ['failed', 'queued'],
];

const allPairs = OBJECT_STATES.flatMap((from) => OBJECT_STATES.map((to): [ObjectState, ObjectState] => [from, to]));
const isAllowed = (from: ObjectState, to: ObjectState) => ALLOWED.some(([f, t]) => f === from && t === to);
const REFUSED = allPairs.filter(([from, to]) => !isAllowed(from, to));

describe('object state transition table', () => {
  it('covers every pair of states', () => {
    expect(ALLOWED.length + REFUSED.length).toBe(36);
  });

  it.each(ALLOWED)('allows %s -> %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(() => assertTransition(from, to)).not.toThrow();
  });

  it.each(REFUSED)('refuses %s -> %s with an error naming both states', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    expect(() => assertTransition(from, to)).toThrow(InvalidTransitionError);
    try {
      assertTransition(from, to);
    } catch (error) {
      expect((error as InvalidTransitionError).details).toEqual({ current_state: from, attempted_state: to });
      expect((error as Error).message).toContain(`'${from}'`);
      expect((error as Error).message).toContain(`'${to}'`);
    }
  });

  it('treats exactly completed and cancelled as terminal', () => {
    expect(OBJECT_STATES.filter(isTerminal)).toEqual(['completed', 'cancelled']);
  });

  it('treats terminal states and failed as settled', () => {
    expect(OBJECT_STATES.filter(isSettled)).toEqual(['completed', 'failed', 'cancelled']);
  });

  it('lists the states leading to each state', () => {
    expect(statesLeadingTo('queued')).toEqual(['pending', 'failed']);
    expect(statesLeadingTo('cancelled')).toEqual(['pending', 'queued', 'processing']);
    expect(statesLeadingTo('pending')).toEqual([]);
  });
});
