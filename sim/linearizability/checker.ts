/**
 * A linearizability checker: Wing & Gong's search with Lowe's memoization, as porcupine does it
 * (github.com/anishathalye/porcupine, checker.go). Operations of one partition (one key) are
 * laid out as call and return entries in time order; the search linearizes any call whose
 * step is legal, backtracks on a return whose call it could not place, and remembers every
 * (set of linearized operations, state) it has seen so it never explores one twice.
 *
 * Nondeterminism (an operation whose outcome is unknown may or may not have happened) is
 * handled porcupine's way: the search state is the set of model states still possible.
 * The search is bounded by a step budget, so it answers "unknown" instead of running forever,
 * and the bound is deterministic (the same history gives the same answer on any machine).
 */

/** One client operation. `returnedAt` is Infinity when the client never learned the outcome. */
export interface Operation<Input, Output> {
  readonly client: number;
  readonly input: Input;
  readonly calledAt: number;
  readonly returnedAt: number;
  /** Undefined when the outcome is unknown. */
  readonly output: Output | undefined;
}

export interface Model<State, Input, Output> {
  readonly init: () => State;
  /** Every state the operation can lead to from `state` giving `output`; empty if it cannot. */
  readonly step: (state: State, input: Input, output: Output | undefined) => State[];
  /** Equal states must give equal keys: the memo and the dedup of possible states use it. */
  readonly key: (state: State) => string;
  /** Splits a history into independent parts (per key); default: one part. */
  readonly partition?: (ops: readonly Operation<Input, Output>[]) => Operation<Input, Output>[][];
}

export type Verdict = 'ok' | 'illegal' | 'unknown';

export interface CheckOptions {
  /** Search steps per partition before giving up with "unknown". */
  readonly maxSteps?: number;
}

interface Entry {
  readonly id: number;
  readonly isCall: boolean;
  readonly time: number;
  match: Entry | null; // a call's return entry
  prev: Entry | null;
  next: Entry | null;
}

export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): Verdict {
  const parts = model.partition ? model.partition(history) : [history.slice()];
  let verdict: Verdict = 'ok';
  for (const part of parts) {
    const result = checkPartition(model, part, options.maxSteps ?? 1_000_000);
    if (result === 'illegal') return 'illegal';
    if (result === 'unknown') verdict = 'unknown';
  }
  return verdict;
}

function buildEntries<I, O>(ops: readonly Operation<I, O>[]): Entry {
  const events: Entry[] = [];
  ops.forEach((op, id) => {
    const call: Entry = {
      id,
      isCall: true,
      time: op.calledAt,
      match: null,
      prev: null,
      next: null,
    };
    const ret: Entry = {
      id,
      isCall: false,
      time: op.returnedAt,
      match: null,
      prev: null,
      next: null,
    };
    call.match = ret;
    events.push(call, ret);
  });
  // Calls before returns at equal times: operations that touch in time count as concurrent.
  events.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.id - b.id);
  const head: Entry = {
    id: -1,
    isCall: false,
    time: -Infinity,
    match: null,
    prev: null,
    next: null,
  };
  let last = head;
  for (const entry of events) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

/** Takes a linearized call and its return out of the list. */
function lift(entry: Entry): void {
  entry.prev!.next = entry.next;
  if (entry.next) entry.next.prev = entry.prev;
  const ret = entry.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Puts them back, in reverse order of `lift`. */
function unlift(entry: Entry): void {
  const ret = entry.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  entry.prev!.next = entry;
  if (entry.next) entry.next.prev = entry;
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  maxSteps: number,
): Verdict {
  if (ops.length === 0) return 'ok';
  const head = buildEntries(ops);
  const linearized = new Uint32Array(Math.ceil(ops.length / 32));
  const seen = new Set<string>();
  const stack: { entry: Entry; states: S[] }[] = [];
  const keyOf = (states: S[]) => states.map(model.key).sort().join('\u0001');
  let states: S[] = [model.init()];
  let entry = head.next;
  let steps = 0;

  while (head.next !== null) {
    if (++steps > maxSteps) return 'unknown';
    if (entry === null) return 'illegal'; // cannot happen: the list ends with a return
    if (entry.isCall) {
      const op = ops[entry.id]!;
      const next = dedup(
        states.flatMap((s) => model.step(s, op.input, op.output)),
        model.key,
      );
      if (next.length > 0) {
        linearized[entry.id >> 5]! |= 1 << (entry.id & 31);
        const memo = `${linearized.join(',')}|${keyOf(next)}`;
        if (!seen.has(memo)) {
          seen.add(memo);
          stack.push({ entry, states });
          states = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.id >> 5]! &= ~(1 << (entry.id & 31));
      }
      entry = entry.next;
    } else {
      // A return whose call is still in the list: that call cannot be placed here. Backtrack.
      const frame = stack.pop();
      if (frame === undefined) return 'illegal';
      states = frame.states;
      linearized[frame.entry.id >> 5]! &= ~(1 << (frame.entry.id & 31));
      unlift(frame.entry);
      entry = frame.entry.next;
    }
  }
  return 'ok';
}

function dedup<S>(states: S[], key: (s: S) => string): S[] {
  if (states.length < 2) return states;
  const byKey = new Map<string, S>();
  for (const s of states) byKey.set(key(s), s);
  return [...byKey.values()];
}
