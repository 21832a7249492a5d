import { AssertionError } from 'node:assert/strict';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../components/random/seeded-random.js';
import {
  COUNTER_LIMIT,
  MAX_EPOCH,
  counterOf,
  epochOf,
  follows,
  formatZxid,
  makeZxid,
} from '../../kv/zxid.js';

const TWO_POW_32 = 2 ** 32;

describe('makeZxid / epochOf / counterOf', () => {
  it('round-trips small and edge values', () => {
    const pairs: [number, number][] = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
      [2, 73],
      [0, COUNTER_LIMIT],
      [1, COUNTER_LIMIT],
      [MAX_EPOCH, 0],
      [MAX_EPOCH, 1],
      [MAX_EPOCH, COUNTER_LIMIT],
      [1000, 0x8000_0000],
    ];
    for (const [epoch, counter] of pairs) {
      const zxid = makeZxid(epoch, counter);
      expect(epochOf(zxid), `epoch of (${epoch}, ${counter})`).toBe(epoch);
      expect(counterOf(zxid), `counter of (${epoch}, ${counter})`).toBe(counter);
      expect(Number.isSafeInteger(zxid)).toBe(true);
    }
  });

  it('is epoch * 2^32 + counter', () => {
    expect(makeZxid(0, 5)).toBe(5);
    expect(makeZxid(1, 0)).toBe(TWO_POW_32);
    expect(makeZxid(1, 1)).toBe(TWO_POW_32 + 1);
    expect(makeZxid(3, 0x10)).toBe(3 * TWO_POW_32 + 16);
  });

  it('the largest zxid is exactly Number.MAX_SAFE_INTEGER', () => {
    expect(makeZxid(MAX_EPOCH, COUNTER_LIMIT)).toBe(Number.MAX_SAFE_INTEGER);
    expect(MAX_EPOCH).toBe(2 ** 21 - 1);
    expect(COUNTER_LIMIT).toBe(TWO_POW_32 - 1);
  });

  it('does not use a 32-bit shift: (e << 32) would lose the epoch', () => {
    for (const epoch of [1, 2, 1234, MAX_EPOCH]) {
      const counter = 7;
      // JavaScript shifts by (32 mod 32) = 0 bits on a 32-bit integer.
      const shifted = (epoch << 32) + counter;
      expect(shifted).toBe(epoch + counter);
      expect(epochOf(shifted)).toBe(0);
      const zxid = makeZxid(epoch, counter);
      expect(zxid).not.toBe(shifted);
      expect(zxid).toBeGreaterThan(2 ** 32);
      expect(epochOf(zxid)).toBe(epoch);
      expect(counterOf(zxid)).toBe(counter);
    }
    // Nor does epochOf use a 32-bit shift or bitwise truncation.
    const big = makeZxid(MAX_EPOCH, COUNTER_LIMIT);
    expect(big >>> 32).not.toBe(MAX_EPOCH);
    expect(epochOf(big)).toBe(MAX_EPOCH);
    expect(big | 0).not.toBe(COUNTER_LIMIT);
    expect(counterOf(big)).toBe(COUNTER_LIMIT);
  });

  it('round-trips a seeded sample of pairs across the whole range', () => {
    const random = new SeededRandom(20240611);
    for (let i = 0; i < 2000; i++) {
      const epoch = random.int(0, MAX_EPOCH);
      const counter = random.int(0, COUNTER_LIMIT);
      const zxid = makeZxid(epoch, counter);
      expect(epochOf(zxid)).toBe(epoch);
      expect(counterOf(zxid)).toBe(counter);
    }
  });

  it('formats as hex epoch.counter', () => {
    expect(formatZxid(makeZxid(0x1a, 0xff))).toBe('1a.ff');
    expect(formatZxid(makeZxid(MAX_EPOCH, COUNTER_LIMIT))).toBe('1fffff.ffffffff');
    expect(formatZxid(0)).toBe('0.0');
  });
});

describe('zxid ordering', () => {
  function lexicographic(a: [number, number], b: [number, number]): number {
    if (a[0] !== b[0]) return Math.sign(a[0] - b[0]);
    return Math.sign(a[1] - b[1]);
  }

  it('numeric order equals (epoch, counter) lexicographic order', () => {
    const random = new SeededRandom(7);
    const pairs: [number, number][] = [
      [0, 0],
      [0, COUNTER_LIMIT],
      [1, 0],
      [MAX_EPOCH, COUNTER_LIMIT],
      [MAX_EPOCH - 1, COUNTER_LIMIT],
      [MAX_EPOCH, 0],
    ];
    for (let i = 0; i < 200; i++) {
      // Mix narrow ranges (equal epochs, near counters) with the full range.
      const epoch = random.chance(0.5) ? random.int(0, 3) : random.int(0, MAX_EPOCH);
      const counter = random.chance(0.3)
        ? random.pick([0, 1, COUNTER_LIMIT - 1, COUNTER_LIMIT])
        : random.int(0, COUNTER_LIMIT);
      pairs.push([epoch, counter]);
    }
    let checked = 0;
    for (const a of pairs) {
      for (const b of pairs) {
        const numeric = Math.sign(makeZxid(...a) - makeZxid(...b));
        expect(numeric, `(${a}) vs (${b})`).toBe(lexicographic(a, b));
        checked++;
      }
    }
    expect(checked).toBe(pairs.length ** 2);
  });

  it('the last counter of an epoch is below the first zxid of the next epoch', () => {
    for (const epoch of [0, 1, 99, MAX_EPOCH - 1]) {
      expect(makeZxid(epoch, COUNTER_LIMIT)).toBeLessThan(makeZxid(epoch + 1, 0));
      expect(makeZxid(epoch, COUNTER_LIMIT) + 1).toBe(makeZxid(epoch + 1, 0));
    }
  });
});

describe('makeZxid rejects bad inputs', () => {
  it.each([-1, MAX_EPOCH + 1, 2 ** 32, 1.5, Number.NaN, Infinity, -Infinity])(
    'epoch %s',
    (epoch) => {
      expect(() => makeZxid(epoch, 1)).toThrow(AssertionError);
    },
  );

  it.each([-1, COUNTER_LIMIT + 1, 2 ** 33, 0.5, Number.NaN, Infinity])('counter %s', (counter) => {
    expect(() => makeZxid(1, counter)).toThrow(AssertionError);
  });

  it('accepts the boundaries themselves', () => {
    expect(() => makeZxid(0, 0)).not.toThrow();
    expect(() => makeZxid(MAX_EPOCH, COUNTER_LIMIT)).not.toThrow();
  });
});

describe('follows', () => {
  const z = makeZxid;

  it('accepts the next counter of the same epoch', () => {
    expect(follows(z(1, 5), z(1, 6))).toBe(true);
    expect(follows(z(0, 0), z(0, 1))).toBe(true);
    expect(follows(z(MAX_EPOCH, COUNTER_LIMIT - 1), z(MAX_EPOCH, COUNTER_LIMIT))).toBe(true);
  });

  it('accepts counter 1 of a later epoch', () => {
    expect(follows(z(1, 5), z(2, 1))).toBe(true);
    expect(follows(z(1, 5), z(7, 1))).toBe(true);
    expect(follows(0, z(1, 1))).toBe(true);
    expect(follows(z(3, 0), z(4, 1))).toBe(true);
  });

  it('rejects gaps within an epoch', () => {
    expect(follows(z(1, 5), z(1, 7))).toBe(false);
    expect(follows(z(1, 5), z(1, 500))).toBe(false);
    expect(follows(0, z(0, 2))).toBe(false);
  });

  it('rejects repeating or going back', () => {
    expect(follows(z(1, 5), z(1, 5))).toBe(false);
    expect(follows(z(1, 5), z(1, 4))).toBe(false);
    expect(follows(z(2, 1), z(1, 6))).toBe(false);
    expect(follows(z(2, 3), z(1, 1))).toBe(false);
  });

  it('rejects a counter other than 1 at a new epoch', () => {
    expect(follows(z(1, 5), z(2, 2))).toBe(false);
    expect(follows(z(1, 5), z(2, 0))).toBe(false);
    expect(follows(z(1, 5), z(3, 6))).toBe(false);
    expect(follows(0, z(1, 2))).toBe(false);
  });

  it('does not treat the carry past the last counter as the next zxid', () => {
    // previous + 1 is numerically adjacent but is counter 0 of the next epoch.
    const last = z(1, COUNTER_LIMIT);
    expect(last + 1).toBe(z(2, 0));
    expect(follows(last, last + 1)).toBe(false);
    expect(follows(last, z(2, 1))).toBe(true);
  });
});
