import type { Model } from './checker.js';
import { componentsByKey } from './key-components.js';
import {
  canBe,
  keyOfState,
  stateOf,
  withKey,
  type KeysState,
  type KvState,
  type Truth,
} from './key-state.js';
import { rangeCovers, rangeStep, type RangeInput, type RangeOutput } from './range-step.js';
import { txnStep, type TxnInput, type TxnOutput } from './txn-step.js';

export type { RangeInput, RangeOutput } from './range-step.js';
export type { TxnInput, TxnOutput } from './txn-step.js';

/** A client operation on one key, as the HTTP API offers it (DESIGN §7). */
export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | {
      readonly op: 'put';
      readonly key: string;
      readonly value: string;
      readonly condition?: Condition;
    }
  | { readonly op: 'delete'; readonly key: string; readonly condition?: Condition };

/** If-Match: "<version>", If-Match: *, If-None-Match: * */
export type Condition = { readonly ifMatch: number | '*' } | { readonly ifNoneMatch: '*' };

export type KvOutput =
  | { readonly status: 200; readonly value?: string; readonly version: number }
  | { readonly status: 204 | 404 | 412 };

/** What the checker takes: an operation on one key, a transaction on several, a listing page. */
export type CheckedInput = KvInput | TxnInput | RangeInput;
export type CheckedOutput = KvOutput | TxnOutput | RangeOutput;

function holds(condition: Condition | undefined, state: KvState): Truth {
  if (condition === undefined) return 'yes';
  if ('ifNoneMatch' in condition) return state.present ? 'no' : 'yes';
  if (!state.present) return 'no';
  if (condition.ifMatch === '*') return 'yes';
  if (state.version === null) return 'maybe';
  return state.version === condition.ifMatch ? 'yes' : 'no';
}

/** Every state of one key that `input` can lead to from `state` giving `output`. */
function keyStep(state: KvState, input: KvInput, output: KvOutput | undefined): KvState[] {
  switch (input.op) {
    case 'get': {
      if (output === undefined) return [state];
      if (output.status === 404) return state.present ? [] : [state];
      if (output.status !== 200 || !state.present || state.value !== output.value) return [];
      if (state.version === null) {
        return output.version > state.floor
          ? [{ ...state, version: output.version, floor: output.version }]
          : [];
      }
      return state.version === output.version ? [state] : [];
    }
    case 'put': {
      const truth = holds(input.condition, state);
      if (output === undefined) {
        const applied: KvState = {
          present: true,
          value: input.value,
          version: null,
          floor: state.floor,
        };
        // It may never have happened; if its condition can hold, it may have.
        return canBe(truth, true) ? [state, applied] : [state];
      }
      if (output.status === 412) return canBe(truth, false) ? [state] : [];
      if (output.status !== 200 || !canBe(truth, true) || output.version <= state.floor) return [];
      return [
        { present: true, value: input.value, version: output.version, floor: output.version },
      ];
    }
    case 'delete': {
      const truth = holds(input.condition, state);
      const removed: KvState = { present: false, floor: state.floor };
      if (output === undefined)
        return canBe(truth, true) && state.present ? [state, removed] : [state];
      switch (output.status) {
        case 204:
          return state.present && canBe(truth, true) ? [removed] : [];
        case 404:
          // A condition that holds on an absent key (If-None-Match: *) lets the delete run: 404.
          return !state.present && canBe(truth, true) ? [state] : [];
        case 412:
          return canBe(truth, false) ? [state] : [];
        default:
          return [];
      }
    }
  }
}

/** The keys an operation names (a listing page names none: which it covers depends on its answer). */
export function keysOf(input: CheckedInput): string[] {
  if (input.op === 'range') return [];
  if (input.op !== 'txn') return [input.key];
  return [
    ...new Set([
      ...input.compare.map((c) => c.key),
      ...input.success.map((o) => o.key),
      ...input.failure.map((o) => o.key),
    ]),
  ];
}

/**
 * The key-value store as the checker sees it: a map of keys, one step per operation, a
 * transaction being one step over all its keys and a listing page one read of every key it
 * covers. A history splits into parts that share no key
 * (key-components.ts): one part per key when no transaction links keys, so the common case
 * stays a search over one key's operations.
 */
export const kvModel: Model<KeysState, CheckedInput, CheckedOutput> = {
  init: () => new Map([]),
  step: (state, input, output) => {
    if (input.op === 'txn') return txnStep(state, input, output);
    if (input.op === 'range') return rangeStep(state, input, output);
    if (output !== undefined && ('txn' in output || 'range' in output)) return [];
    const before = stateOf(state, input.key);
    return keyStep(before, input, output).map((after) =>
      after === before ? state : withKey(state, input.key, after),
    );
  },
  key: keyOfState,
  partition: (ops) => {
    // A page covers every key of the history in its range, listed or not: it links them all.
    const universe = new Set(ops.flatMap((op) => keysOf(op.input)));
    for (const op of ops)
      if (op.output !== undefined && 'range' in op.output)
        for (const item of op.output.range.items) universe.add(item.key);
    return componentsByKey(ops, (op) => {
      if (op.input.op !== 'range') return keysOf(op.input);
      const { input, output } = op;
      if (output === undefined || !('range' in output)) return [];
      return [...universe].filter((key) => rangeCovers(input, output, key));
    });
  },
};
