import { compareKeys } from '../../state/write-rules.js';
import { stateOf, withKey, type KeysState, type KvState } from './key-state.js';

/** One group's part of a listing page (kv/range.ts) as the checker sees it: values as text. */
export interface RangeInput {
  readonly op: 'range';
  /** The group asked (the checker does not need it; the request does). */
  readonly group: number;
  readonly prefix: string;
  /** Only keys after this one; null: from the first key with the prefix. */
  readonly after: string | null;
  readonly limit: number;
}

export interface RangeOutput {
  readonly status: 200;
  /** The zxid it was read at. */
  readonly version: number;
  readonly range: {
    readonly items: readonly {
      readonly key: string;
      readonly version: number;
      readonly value: string;
    }[];
    /** A key with the prefix follows the last item: keys past it are not covered. */
    readonly more: boolean;
  };
}

/** Whether a page answered `output` speaks for `key`: listed if present, or absent. */
export function rangeCovers(input: RangeInput, output: RangeOutput, key: string): boolean {
  if (!key.startsWith(input.prefix)) return false;
  if (input.after !== null && compareKeys(key, input.after) <= 0) return false;
  const last = output.range.items.at(-1);
  return !output.range.more || (last !== undefined && compareKeys(key, last.key) <= 0);
}

/**
 * A listing page as one read of every key it covers, at one point: each key listed holds the
 * value and version listed, every other covered key is absent. A page of unknown outcome says
 * nothing.
 */
export function rangeStep(
  state: KeysState,
  input: RangeInput,
  output: RangeOutput | { readonly status: number } | undefined,
): KeysState[] {
  if (output === undefined) return [state];
  if (!('range' in output)) return [];
  const { items, more } = output.range;
  if (items.length > input.limit || (more && items.length === 0)) return [];
  const listed = new Set(items.map((item) => item.key));
  for (const [key, value] of state)
    if (value.present && !listed.has(key) && rangeCovers(input, output, key)) return [];
  let next = state;
  let previous: string | null = null;
  for (const item of items) {
    // In key order, inside the range, read no later than the page.
    if (previous !== null && compareKeys(previous, item.key) >= 0) return [];
    previous = item.key;
    if (!rangeCovers(input, output, item.key) || item.version > output.version) return [];
    const current = stateOf(next, item.key);
    if (!current.present || current.value !== item.value) return [];
    if (current.version === null) {
      if (item.version <= current.floor) return [];
      const bound: KvState = { ...current, version: item.version, floor: item.version };
      next = withKey(next, item.key, bound);
    } else if (current.version !== item.version) return [];
  }
  return [next];
}
