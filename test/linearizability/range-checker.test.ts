import { describe, expect, it } from 'vitest';
import { checkOperations, type Operation } from '../../sim/linearizability/checker.js';
import {
  kvModel,
  type CheckedInput,
  type CheckedOutput,
} from '../../sim/linearizability/kv-model.js';

// Issue 12: a listing page joins the linearizability check as a read of every key it covers,
// at one point.

type Op = Operation<CheckedInput, CheckedOutput>;
type Item = { key: string; version: number; value: string };

const put = (at: number, end: number, key: string, value: string, version?: number): Op => ({
  client: 0,
  input: { op: 'put', key, value },
  calledAt: at,
  returnedAt: version === undefined ? Infinity : end,
  output: version === undefined ? undefined : { status: 200, version },
});
const del = (at: number, end: number, key: string): Op => ({
  client: 0,
  input: { op: 'delete', key },
  calledAt: at,
  returnedAt: end,
  output: { status: 204 },
});
const list = (
  at: number,
  end: number,
  items: Item[],
  { prefix = 'p/', after = null as string | null, limit = 10, more = false, version = 100 } = {},
): Op => ({
  client: 0,
  input: { op: 'range', group: 0, prefix, after, limit },
  calledAt: at,
  returnedAt: end,
  output: { status: 200, version, range: { items, more } },
});
const check = (ops: Op[]) => checkOperations(kvModel, ops);
const a = (value: string, version: number): Item => ({ key: 'p/a', version, value });
const b = (value: string, version: number): Item => ({ key: 'p/b', version, value });

describe('listing pages in the linearizability check', () => {
  const written = [put(0, 1, 'p/a', 'a1', 5), put(2, 3, 'p/b', 'b1', 6), put(2, 3, 'q', 'q1', 7)];

  it('accepts a page that lists what is there, in order, and nothing outside its prefix', () => {
    expect(check([...written, list(4, 5, [a('a1', 5), b('b1', 6)])])).toBe('ok');
  });

  it('catches a page that leaves out a key that is there, or lists one deleted', () => {
    expect(check([...written, list(4, 5, [b('b1', 6)])])).toBe('illegal');
    expect(check([...written, del(4, 5, 'p/a'), list(6, 7, [a('a1', 5), b('b1', 6)])])).toBe(
      'illegal',
    );
    expect(check([...written, del(4, 5, 'p/a'), list(6, 7, [b('b1', 6)])])).toBe('ok');
    // A value or version no write explains.
    expect(check([...written, list(4, 5, [a('a0', 5), b('b1', 6)])])).toBe('illegal');
    expect(check([...written, list(4, 5, [a('a1', 4), b('b1', 6)])])).toBe('illegal');
  });

  it('reads every key at one point: not one key before a write and another after it', () => {
    // a was written before b began: a page that shows b must show a.
    const racing = [put(0, 1, 'p/a', 'a1', 5), put(2, 3, 'p/b', 'b1', 6)];
    expect(check([...racing, list(0, 10, [b('b1', 6)])])).toBe('illegal');
    expect(check([...racing, list(0, 10, [a('a1', 5)])])).toBe('ok');
    expect(check([...racing, list(0, 10, [])])).toBe('ok');
  });

  it('sees a transaction whole or not at all', () => {
    const before = [put(0, 1, 'p/a', 'a1', 5), put(0, 1, 'p/b', 'b1', 6)];
    const swap: Op = {
      client: 0,
      input: {
        op: 'txn',
        compare: [],
        success: [
          { op: 'put', key: 'p/a', value: 'a2' },
          { op: 'put', key: 'p/b', value: 'b2' },
        ],
        failure: [],
      },
      calledAt: 2,
      returnedAt: 10,
      output: {
        status: 200,
        version: 9,
        txn: {
          succeeded: true,
          results: [
            { op: 'put', key: 'p/a', version: 9 },
            { op: 'put', key: 'p/b', version: 9 },
          ],
        },
      },
    };
    expect(check([...before, swap, list(3, 4, [a('a2', 9), b('b2', 9)])])).toBe('ok');
    expect(check([...before, swap, list(3, 4, [a('a1', 5), b('b1', 6)])])).toBe('ok');
    expect(check([...before, swap, list(3, 4, [a('a2', 9), b('b1', 6)])])).toBe('illegal');
  });

  it('covers only up to its last item when more follow, and only after its cursor', () => {
    expect(check([...written, list(4, 5, [a('a1', 5)], { limit: 1, more: true })])).toBe('ok');
    expect(check([...written, list(4, 5, [a('a1', 5)], { limit: 1, more: false })])).toBe(
      'illegal',
    );
    expect(check([...written, list(4, 5, [b('b1', 6)], { after: 'p/a' })])).toBe('ok');
    expect(check([...written, list(4, 5, [], { after: 'p/a' })])).toBe('illegal');
    // Over its limit, out of order, or read at a zxid older than what it lists.
    expect(check([...written, list(4, 5, [a('a1', 5), b('b1', 6)], { limit: 1 })])).toBe('illegal');
    expect(check([...written, list(4, 5, [b('b1', 6), a('a1', 5)])])).toBe('illegal');
    expect(check([...written, list(4, 5, [a('a1', 5), b('b1', 6)], { version: 5 })])).toBe(
      'illegal',
    );
  });
});
