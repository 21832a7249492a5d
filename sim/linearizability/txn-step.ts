import {
  allOf,
  canBe,
  stateOf,
  withKey,
  type KeysState,
  type KvState,
  type Truth,
} from './key-state.js';

/** A transaction as the checker sees it (kv/txn.ts): values as text, versions as numbers. */
export interface TxnInput {
  readonly op: 'txn';
  /** Holds when the key's version is `version`; 0: the key is absent. */
  readonly compare: readonly { readonly key: string; readonly version: number }[];
  readonly success: readonly TxnInputOp[];
  readonly failure: readonly TxnInputOp[];
}

export type TxnInputOp =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'get'; readonly key: string };

/** A transaction's answer: the branch that ran and what each of its ops did, in order. */
export interface TxnOutput {
  readonly status: 200;
  /** The zxid it was applied at: the version of every key it wrote. */
  readonly version: number;
  readonly txn: {
    readonly succeeded: boolean;
    readonly results: readonly TxnOpOutput[];
  };
}

/** A get of an absent key has version 0 and no value. */
export type TxnOpOutput =
  | { readonly op: 'put'; readonly key: string; readonly version: number }
  | { readonly op: 'delete'; readonly key: string; readonly deleted: boolean }
  | { readonly op: 'get'; readonly key: string; readonly version: number; readonly value?: string };

function compareHolds(state: KeysState, compare: TxnInput['compare']): Truth {
  return allOf(
    compare.map(({ key, version }): Truth => {
      const current = stateOf(state, key);
      if (version === 0) return current.present ? 'no' : 'yes';
      if (!current.present) return 'no';
      if (current.version === null) return 'maybe';
      return current.version === version ? 'yes' : 'no';
    }),
  );
}

/** The branch applied with its outcome unknown: its writes have no version yet. */
function applyUnknown(state: KeysState, branch: readonly TxnInputOp[]): KeysState {
  let next = state;
  for (const op of branch) {
    const current = stateOf(next, op.key);
    if (op.op === 'put')
      next = withKey(next, op.key, {
        present: true,
        value: op.value,
        version: null,
        floor: current.floor,
      });
    else if (op.op === 'delete' && current.present)
      next = withKey(next, op.key, { present: false, floor: current.floor });
  }
  return next;
}

/**
 * A value of unknown version seen with `version`: bound to it if it can be that, else null.
 * A known version must simply match.
 */
function seenAt(current: KvState & { present: true }, version: number): KvState | null {
  if (current.version === null)
    return version > current.floor ? { ...current, version, floor: version } : null;
  return current.version === version ? current : null;
}

/**
 * One transaction as one step over its keys: the compares are read in the state before it,
 * then each op of the branch they chose in order, every write at the transaction's zxid (as
 * state/state-store-core.ts applies it). An unknown outcome: it did not happen, or either
 * branch its compares allow did.
 */
export function txnStep(
  state: KeysState,
  input: TxnInput,
  output: TxnOutput | { readonly status: number } | undefined,
): KeysState[] {
  const truth = compareHolds(state, input.compare);
  if (output === undefined) {
    const after = [state];
    if (canBe(truth, true)) after.push(applyUnknown(state, input.success));
    if (canBe(truth, false)) after.push(applyUnknown(state, input.failure));
    return after;
  }
  if (!('txn' in output)) return [];
  const { succeeded, results } = output.txn;
  if (!canBe(truth, succeeded)) return [];
  let next = state;
  if (succeeded) {
    // Each compare held: a value of unknown version had the version compared.
    for (const { key, version } of input.compare) {
      const current = stateOf(next, key);
      if (!current.present) continue;
      const bound = seenAt(current, version);
      if (bound === null) return [];
      if (bound !== current) next = withKey(next, key, bound);
    }
  }
  const branch = succeeded ? input.success : input.failure;
  if (results.length !== branch.length) return [];
  for (const [i, op] of branch.entries()) {
    const result = results[i]!;
    if (result.op !== op.op || result.key !== op.key) return [];
    const current = stateOf(next, op.key);
    switch (result.op) {
      case 'get': {
        if (result.version === 0) {
          if (current.present) return [];
          continue;
        }
        if (result.version > output.version) return [];
        if (!current.present || current.value !== result.value) return [];
        const bound = seenAt(current, result.version);
        if (bound === null) return [];
        if (bound !== current) next = withKey(next, op.key, bound);
        continue;
      }
      case 'put':
        if (op.op !== 'put' || result.version !== output.version || result.version <= current.floor)
          return [];
        next = withKey(next, op.key, {
          present: true,
          value: op.value,
          version: result.version,
          floor: result.version,
        });
        continue;
      case 'delete':
        if (result.deleted !== current.present) return [];
        if (current.present) next = withKey(next, op.key, { present: false, floor: current.floor });
        continue;
    }
  }
  return [next];
}
