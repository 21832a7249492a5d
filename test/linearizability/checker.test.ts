import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { checkOperations, type Operation } from '../../sim/linearizability/checker.js';
import {
  kvModel,
  type Condition,
  type KvInput,
  type KvOutput,
} from '../../sim/linearizability/kv-model.js';

type Op = Operation<KvInput, KvOutput>;
const K = 'k';
const put = (
  calledAt: number,
  returnedAt: number,
  value: string,
  version: number | undefined,
  condition?: Condition,
): Op => ({
  client: 0,
  input: { op: 'put', key: K, value, condition },
  calledAt,
  returnedAt: version === undefined ? Infinity : returnedAt,
  output: version === undefined ? undefined : { status: 200, version },
});
const get = (calledAt: number, returnedAt: number, value: string | null, version = 0): Op => ({
  client: 0,
  input: { op: 'get', key: K },
  calledAt,
  returnedAt,
  output: value === null ? { status: 404 } : { status: 200, value, version },
});
const failed = (calledAt: number, returnedAt: number, input: KvInput): Op => ({
  client: 0,
  input,
  calledAt,
  returnedAt,
  output: { status: 412 },
});
const check = (ops: Op[]) => checkOperations(kvModel, ops);

describe('linearizability checker on the key-value model', () => {
  it('accepts a sequential history and rejects a value nobody wrote', () => {
    expect(check([put(0, 1, 'a', 5), get(2, 3, 'a', 5)])).toBe('ok');
    expect(check([put(0, 1, 'a', 5), get(2, 3, 'b', 5)])).toBe('illegal');
    expect(check([put(0, 1, 'a', 5), get(2, 3, 'a', 6)])).toBe('illegal');
  });

  it('rejects a stale read after a completed write', () => {
    expect(check([put(0, 1, 'a', 5), put(2, 3, 'b', 6), get(4, 5, 'a', 5)])).toBe('illegal');
    expect(check([put(0, 1, 'a', 5), get(2, 3, null)])).toBe('illegal');
  });

  it('lets overlapping operations take effect in either order', () => {
    expect(check([put(0, 10, 'a', 5), get(1, 2, null), get(3, 4, 'a', 5)])).toBe('ok');
    // ...but once a read saw the new value, a later read cannot see the old one.
    expect(check([put(0, 10, 'a', 5), get(1, 2, 'a', 5), get(3, 4, null)])).toBe('illegal');
  });

  it('treats an operation of unknown outcome as happened or not, never both', () => {
    expect(check([put(0, 0, 'a', undefined), get(5, 6, 'a', 9)])).toBe('ok');
    expect(check([put(0, 0, 'a', undefined), get(5, 6, null)])).toBe('ok');
    expect(check([put(0, 0, 'a', undefined), get(5, 6, 'a', 9), get(7, 8, null)])).toBe('illegal');
    // The version a read reveals must be newer than any write before the unknown one.
    expect(check([put(0, 1, 'a', 9), put(2, 2, 'b', undefined), get(5, 6, 'b', 4)])).toBe(
      'illegal',
    );
  });

  it('requires versions of successive writes to increase', () => {
    expect(check([put(0, 1, 'a', 7), put(2, 3, 'b', 3)])).toBe('illegal');
  });

  it('checks conditions: one create wins, a failed precondition must be true at some point', () => {
    const create = (t: number, v: string, version: number) =>
      put(t, t + 10, v, version, { ifNoneMatch: '*' });
    expect(check([create(0, 'a', 5), create(1, 'b', 6)])).toBe('illegal');
    expect(
      check([
        create(0, 'a', 5),
        failed(1, 11, { op: 'put', key: K, value: 'b', condition: { ifNoneMatch: '*' } }),
      ]),
    ).toBe('ok');
    // A 412 for If-Match on the current version, with no concurrent write, is a stale decision.
    expect(
      check([
        put(0, 1, 'a', 5),
        failed(2, 3, { op: 'put', key: K, value: 'b', condition: { ifMatch: 5 } }),
      ]),
    ).toBe('illegal');
    expect(check([put(0, 1, 'a', 5), put(2, 3, 'b', 6, { ifMatch: 5 }), get(4, 5, 'b', 6)])).toBe(
      'ok',
    );
  });

  it('checks deletes: 404 only when absent, 204 only when present', () => {
    const del = (t: number, status: 204 | 404): Op => ({
      client: 0,
      input: { op: 'delete', key: K },
      calledAt: t,
      returnedAt: t + 1,
      output: { status },
    });
    expect(check([put(0, 1, 'a', 5), del(2, 204), get(4, 5, null), del(6, 404)])).toBe('ok');
    expect(check([put(0, 1, 'a', 5), del(2, 404)])).toBe('illegal');
    expect(check([del(0, 204)])).toBe('illegal');
  });

  it('checks keys independently', () => {
    const other = (op: Op): Op => ({ ...op, input: { ...op.input, key: 'other' } });
    expect(check([put(0, 1, 'a', 5), other(get(2, 3, null)), get(4, 5, 'a', 5)])).toBe('ok');
    expect(check([put(0, 1, 'a', 5), other(get(2, 3, 'a', 5))])).toBe('illegal');
  });

  it('answers unknown, not a guess, when the search exceeds its bound', () => {
    const ops: Op[] = [];
    for (let i = 0; i < 40; i++) ops.push(put(0, 100, `v${i}`, i + 1));
    ops.push(get(101, 102, 'v0', 1)); // forces the search through many orders
    expect(checkOperations(kvModel, ops, { maxSteps: 50 })).toBe('unknown');
  });

  it('agrees with brute force on random small histories', () => {
    let legal = 0;
    let illegal = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const ops = randomHistory(new SeededRandom(seed));
      const expected = bruteForce(ops) ? 'ok' : 'illegal';
      expect({ seed, verdict: check(ops) }).toEqual({ seed, verdict: expected });
      if (expected === 'ok') legal++;
      else illegal++;
    }
    // Both kinds were exercised.
    expect(legal).toBeGreaterThan(30);
    expect(illegal).toBeGreaterThan(30);
  });
});

/** Up to 6 overlapping operations with plausible but unvalidated outputs. */
function randomHistory(random: SeededRandom): Op[] {
  const ops: Op[] = [];
  const n = random.int(1, 6);
  for (let i = 0; i < n; i++) {
    const calledAt = random.int(0, 20);
    const returnedAt = calledAt + random.int(0, 10);
    const version = random.int(1, 4);
    const value = random.pick(['a', 'b']);
    const condition = random.pick<Condition | undefined>([
      undefined,
      undefined,
      { ifMatch: random.int(1, 4) },
      { ifNoneMatch: '*' },
    ]);
    const unknown = random.chance(0.15);
    switch (random.int(0, 2)) {
      case 0:
        ops.push(get(calledAt, returnedAt, random.chance(0.3) ? null : value, version));
        break;
      case 1:
        ops.push(
          random.chance(0.2)
            ? failed(calledAt, returnedAt, { op: 'put', key: K, value, condition })
            : put(calledAt, returnedAt, value, unknown ? undefined : version, condition),
        );
        break;
      default:
        ops.push({
          client: i,
          input: { op: 'delete', key: K, condition: random.chance(0.5) ? condition : undefined },
          calledAt,
          returnedAt: unknown ? Infinity : returnedAt,
          output: unknown ? undefined : { status: random.pick([204, 404, 412] as const) },
        });
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
      // i may go next only if no unplaced operation returned before i was called.
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
