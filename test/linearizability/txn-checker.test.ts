import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { checkOperations, type Operation } from '../../sim/linearizability/checker.js';
import { componentsByKey } from '../../sim/linearizability/key-components.js';
import {
  keysOf,
  kvModel,
  type CheckedInput,
  type CheckedOutput,
  type TxnInput,
} from '../../sim/linearizability/kv-model.js';
import type { TxnOpOutput } from '../../sim/linearizability/txn-step.js';

// Issue 12: a transaction is one operation on several keys in the linearizability check.

type Op = Operation<CheckedInput, CheckedOutput>;

const put = (at: number, end: number, key: string, value: string, version?: number): Op => ({
  client: 0,
  input: { op: 'put', key, value },
  calledAt: at,
  returnedAt: version === undefined ? Infinity : end,
  output: version === undefined ? undefined : { status: 200, version },
});
const get = (at: number, end: number, key: string, value: string | null, version = 0): Op => ({
  client: 0,
  input: { op: 'get', key },
  calledAt: at,
  returnedAt: end,
  output: value === null ? { status: 404 } : { status: 200, value, version },
});
/** A transaction answered `succeeded` at `version` with `results`; unknown when version is undefined. */
const txn = (
  at: number,
  end: number,
  input: Omit<TxnInput, 'op'>,
  answer?: { version: number; succeeded: boolean; results: TxnOpOutput[] },
): Op => ({
  client: 0,
  input: { op: 'txn', ...input },
  calledAt: at,
  returnedAt: answer === undefined ? Infinity : end,
  output:
    answer === undefined
      ? undefined
      : {
          status: 200,
          version: answer.version,
          txn: { succeeded: answer.succeeded, results: answer.results },
        },
});
const check = (ops: Op[]) => checkOperations(kvModel, ops);

/** Puts a := x and b := y if a is at `version`; else reads a. */
const swap = (version: number, x: string, y: string): Omit<TxnInput, 'op'> => ({
  compare: [{ key: 'a', version }],
  success: [
    { op: 'put', key: 'a', value: x },
    { op: 'put', key: 'b', value: y },
  ],
  failure: [{ op: 'get', key: 'a' }],
});
const wroteBoth = (version: number): TxnOpOutput[] => [
  { op: 'put', key: 'a', version },
  { op: 'put', key: 'b', version },
];

describe('transactions in the linearizability check', () => {
  it('accepts a transaction that reads and writes what the history explains', () => {
    const ok = [
      put(0, 1, 'a', 'a1', 5),
      txn(2, 3, swap(5, 'a2', 'b2'), { version: 9, succeeded: true, results: wroteBoth(9) }),
      get(4, 5, 'a', 'a2', 9),
      get(6, 7, 'b', 'b2', 9),
      txn(8, 9, swap(5, 'a3', 'b3'), {
        version: 12,
        succeeded: false,
        results: [{ op: 'get', key: 'a', version: 9, value: 'a2' }],
      }),
    ];
    expect(check(ok)).toBe('ok');
  });

  it('catches a get in a transaction that returns a value no order explains', () => {
    const read = (value: string, version: number) =>
      txn(
        2,
        3,
        { compare: [], success: [{ op: 'get', key: 'a' }], failure: [] },
        { version: 8, succeeded: true, results: [{ op: 'get', key: 'a', version, value }] },
      );
    expect(check([put(0, 1, 'a', 'a1', 5), read('a1', 5)])).toBe('ok');
    expect(check([put(0, 1, 'a', 'a1', 5), read('a0', 5)])).toBe('illegal');
    // The right value under another version, and a stale one after a newer write.
    expect(check([put(0, 1, 'a', 'a1', 5), read('a1', 4)])).toBe('illegal');
    expect(check([put(0, 1, 'a', 'a0', 3), put(1, 1, 'a', 'a1', 5), read('a0', 3)])).toBe(
      'illegal',
    );
  });

  it('catches a transaction applied half: one key written, the other not', () => {
    const done = txn(2, 3, swap(5, 'a2', 'b2'), {
      version: 9,
      succeeded: true,
      results: wroteBoth(9),
    });
    const before = [put(0, 1, 'a', 'a1', 5), put(0, 1, 'b', 'b1', 6)];
    expect(check([...before, done, get(4, 5, 'a', 'a2', 9), get(6, 7, 'b', 'b2', 9)])).toBe('ok');
    expect(check([...before, done, get(4, 5, 'a', 'a2', 9), get(6, 7, 'b', 'b1', 6)])).toBe(
      'illegal',
    );
    // Of unknown outcome it may have happened or not, but not half: a read of its a, then a
    // read of b from before it, is no order.
    const unknown = txn(2, 3, swap(5, 'a2', 'b2'));
    expect(check([...before, unknown, get(4, 5, 'a', 'a2', 9), get(6, 7, 'b', 'b2', 9)])).toBe(
      'ok',
    );
    expect(check([...before, unknown, get(4, 5, 'a', 'a1', 5), get(6, 7, 'b', 'b1', 6)])).toBe(
      'ok',
    );
    expect(check([...before, unknown, get(4, 5, 'a', 'a2', 9), get(6, 7, 'b', 'b1', 6)])).toBe(
      'illegal',
    );
  });

  it('catches a compare decided wrongly either way', () => {
    const a5 = put(0, 1, 'a', 'a1', 5);
    // a is at 5: the swap must succeed; a failure reading a at 5 is a stale decision.
    const failed = txn(2, 3, swap(5, 'x', 'y'), {
      version: 9,
      succeeded: false,
      results: [{ op: 'get', key: 'a', version: 5, value: 'a1' }],
    });
    expect(check([a5, failed])).toBe('illegal');
    // a is at 5, not 4: a success is wrong.
    const succeeded = txn(2, 3, swap(4, 'x', 'y'), {
      version: 9,
      succeeded: true,
      results: wroteBoth(9),
    });
    expect(check([a5, succeeded])).toBe('illegal');
    // A failed transaction changes nothing: b keeps its value.
    const noSwap = txn(2, 3, swap(4, 'x', 'y'), {
      version: 9,
      succeeded: false,
      results: [{ op: 'get', key: 'a', version: 5, value: 'a1' }],
    });
    expect(check([a5, noSwap, get(4, 5, 'b', null)])).toBe('ok');
    expect(check([a5, noSwap, get(4, 5, 'b', 'y', 9)])).toBe('illegal');
  });

  it('binds what a transaction saw: a version newer than itself is not, a compare fixes one', () => {
    const readA = (version: number) =>
      txn(
        1,
        2,
        { compare: [], success: [{ op: 'get', key: 'a' }], failure: [] },
        { version: 9, succeeded: true, results: [{ op: 'get', key: 'a', version, value: 'v' }] },
      );
    // A put answered at 12, concurrent: the transaction at 9 cannot have read it.
    expect(check([put(0, 10, 'a', 'v', 8), readA(8)])).toBe('ok');
    expect(check([put(0, 10, 'a', 'v', 12), readA(12)])).toBe('illegal');
    // A put of unknown outcome, then a compare that held at version 7: the value is at 7.
    const casOnA = txn(
      2,
      3,
      {
        compare: [{ key: 'a', version: 7 }],
        success: [{ op: 'put', key: 'b', value: 'w' }],
        failure: [],
      },
      { version: 9, succeeded: true, results: [{ op: 'put', key: 'b', version: 9 }] },
    );
    expect(check([put(0, 1, 'a', 'u'), casOnA, get(4, 5, 'a', 'u', 7)])).toBe('ok');
    expect(check([put(0, 1, 'a', 'u'), casOnA, get(4, 5, 'a', 'u', 8)])).toBe('illegal');
  });

  it('checks results against the ops: every write at the zxid, a get after a put sees it', () => {
    const input: Omit<TxnInput, 'op'> = {
      compare: [],
      success: [
        { op: 'put', key: 'a', value: 'v' },
        { op: 'delete', key: 'b' },
        { op: 'get', key: 'a' },
      ],
      failure: [],
    };
    const answer = (results: TxnOpOutput[]) =>
      txn(2, 3, input, { version: 9, succeeded: true, results });
    const b = put(0, 1, 'b', 'b1', 4);
    const right: TxnOpOutput[] = [
      { op: 'put', key: 'a', version: 9 },
      { op: 'delete', key: 'b', deleted: true },
      { op: 'get', key: 'a', version: 9, value: 'v' },
    ];
    expect(check([b, answer(right)])).toBe('ok');
    expect(
      check([b, answer([right[0]!, { op: 'delete', key: 'b', deleted: false }, right[2]!])]),
    ).toBe('illegal');
    expect(check([b, answer([{ op: 'put', key: 'a', version: 8 }, right[1]!, right[2]!])])).toBe(
      'illegal',
    );
    expect(check([b, answer([right[0]!, right[1]!, { op: 'get', key: 'a', version: 0 }])])).toBe(
      'illegal',
    );
    expect(check([b, answer(right.slice(0, 2))])).toBe('illegal');
  });

  it('splits a history into parts linked by shared keys, one per key without transactions', () => {
    const ops: Op[] = [
      put(0, 1, 'a', '1', 1),
      put(0, 1, 'b', '1', 2),
      put(0, 1, 'c', '1', 3),
      get(0, 1, 'd', null),
    ];
    const parts = (list: Op[]) =>
      componentsByKey(list, (op) => keysOf(op.input)).map((part) =>
        [...new Set(part.flatMap((op) => keysOf(op.input)))].sort().join(''),
      );
    expect(parts(ops).sort()).toEqual(['a', 'b', 'c', 'd']);
    const ab = txn(2, 3, swap(1, 'x', 'y'));
    const bc = txn(2, 3, {
      compare: [{ key: 'c', version: 0 }],
      success: [{ op: 'get', key: 'b' }],
      failure: [],
    });
    expect(parts([...ops, ab]).sort()).toEqual(['ab', 'c', 'd']);
    expect(parts([...ops, ab, bc]).sort()).toEqual(['abc', 'd']);
  });

  it('agrees with brute force on random small histories with transactions', () => {
    let legal = 0;
    let illegal = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const ops = randomHistory(new SeededRandom(seed));
      const expected = bruteForce(ops) ? 'ok' : 'illegal';
      expect({ seed, verdict: check(ops) }).toEqual({ seed, verdict: expected });
      if (expected === 'ok') legal++;
      else illegal++;
    }
    expect(legal).toBeGreaterThan(40);
    expect(illegal).toBeGreaterThan(40);
  });
});

/** Up to 6 overlapping operations on keys a, b, c, some of them transactions over two keys. */
function randomHistory(random: SeededRandom): Op[] {
  const ops: Op[] = [];
  const n = random.int(1, 6);
  for (let i = 0; i < n; i++) {
    const at = random.int(0, 20);
    const end = at + random.int(0, 10);
    const key = random.pick(['a', 'b', 'c']);
    const value = random.pick(['x', 'y']);
    const version = random.int(1, 4);
    const roll = random.int(0, 9);
    if (roll < 3) ops.push(get(at, end, key, random.chance(0.3) ? null : value, version));
    else if (roll < 6)
      ops.push(put(at, end, key, value, random.chance(0.15) ? undefined : version));
    else {
      const other = key === 'a' ? 'b' : 'a';
      const input: Omit<TxnInput, 'op'> = {
        compare: random.chance(0.5) ? [{ key, version: random.int(0, 4) }] : [],
        success: [
          { op: 'put', key, value },
          { op: 'get', key: other },
        ],
        failure: [{ op: 'get', key }],
      };
      const seen = (k: string): TxnOpOutput =>
        random.chance(0.3)
          ? { op: 'get', key: k, version: 0 }
          : { op: 'get', key: k, version: random.int(1, 4), value: random.pick(['x', 'y']) };
      const succeeded = random.chance(0.6);
      ops.push(
        txn(
          at,
          end,
          input,
          random.chance(0.15)
            ? undefined
            : {
                version,
                succeeded,
                results: succeeded ? [{ op: 'put', key, version }, seen(other)] : [seen(key)],
              },
        ),
      );
    }
  }
  return ops;
}

/** Tries every order that respects real time (a returned before b was called ⇒ a first). */
function bruteForce(ops: Op[]): boolean {
  const used = new Array<boolean>(ops.length).fill(false);
  const search = (states: ReturnType<typeof kvModel.init>[], placed: number): boolean => {
    if (placed === ops.length) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      if (ops.some((o, j) => !used[j] && j !== i && o.returnedAt < ops[i]!.calledAt)) continue;
      const next = states.flatMap((s) => kvModel.step(s, ops[i]!.input, ops[i]!.output));
      if (next.length === 0) continue;
      used[i] = true;
      if (search(next, placed + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return search([kvModel.init()], 0);
}
