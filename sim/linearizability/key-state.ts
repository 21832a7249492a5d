/**
 * One key's state in the linearizability model. A version is the zxid of the write that
 * produced the value, so versions of successive writes increase; `version: null` is a value
 * written by an operation whose outcome the client never learned (its version is bound by the
 * first read that shows it). `floor`: a later write of the key must have a greater version.
 */
export type KvState =
  | { readonly present: false; readonly floor: number }
  | {
      readonly present: true;
      readonly value: string;
      readonly version: number | null;
      readonly floor: number;
    };

/** The state of the keys one part of a history touches; a key not in it is ABSENT. */
export type KeysState = ReadonlyMap<string, KvState>;

export const ABSENT: KvState = { present: false, floor: 0 };

export const stateOf = (state: KeysState, key: string): KvState => state.get(key) ?? ABSENT;

export const withKey = (state: KeysState, key: string, value: KvState): KeysState =>
  new Map(state).set(key, value);

/** Whether a condition holds; `maybe` on a value whose version is not known yet. */
export type Truth = 'yes' | 'no' | 'maybe';

export const canBe = (truth: Truth, wanted: boolean) =>
  truth === 'maybe' || (truth === 'yes') === wanted;

/** Several conditions together: no if one is no, yes if all are yes. */
export function allOf(truths: readonly Truth[]): Truth {
  if (truths.includes('no')) return 'no';
  return truths.includes('maybe') ? 'maybe' : 'yes';
}

function keyOfOne(s: KvState): string {
  return s.present ? `${s.value}\u0000${s.version}\u0000${s.floor}` : `-\u0000${s.floor}`;
}

/** Equal states give equal keys: an explicit ABSENT counts as a key never touched. */
export function keyOfState(state: KeysState): string {
  const parts: string[] = [];
  for (const [key, value] of state) {
    if (!value.present && value.floor === 0) continue;
    parts.push(`${key}\u0002${keyOfOne(value)}`);
  }
  return parts.length < 2 ? (parts[0] ?? '') : parts.sort().join('\u0003');
}
