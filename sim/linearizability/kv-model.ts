import type { Model, Operation } from './checker.js';

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

/**
 * One key's state. A version is the zxid of the write that produced the value, so versions of
 * successive writes increase; `version: null` is a value written by an operation whose outcome
 * the client never learned (its version is bound by the first read that shows it).
 */
type KvState =
  | { readonly present: false; readonly floor: number }
  | {
      readonly present: true;
      readonly value: string;
      readonly version: number | null;
      readonly floor: number;
    };

type Truth = 'yes' | 'no' | 'maybe';

function holds(condition: Condition | undefined, state: KvState): Truth {
  if (condition === undefined) return 'yes';
  if ('ifNoneMatch' in condition) return state.present ? 'no' : 'yes';
  if (!state.present) return 'no';
  if (condition.ifMatch === '*') return 'yes';
  if (state.version === null) return 'maybe';
  return state.version === condition.ifMatch ? 'yes' : 'no';
}

const canBe = (truth: Truth, wanted: boolean) => truth === 'maybe' || (truth === 'yes') === wanted;

function step(state: KvState, input: KvInput, output: KvOutput | undefined): KvState[] {
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

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => ({ present: false, floor: 0 }),
  step,
  key: (s) => (s.present ? `${s.value}\u0000${s.version}\u0000${s.floor}` : `-\u0000${s.floor}`),
  partition: (ops) => {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of ops) {
      const list = byKey.get(op.input.key) ?? [];
      list.push(op);
      byKey.set(op.input.key, list);
    }
    return [...byKey.values()];
  },
};
