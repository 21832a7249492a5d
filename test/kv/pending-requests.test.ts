import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { PendingRequests, type PendingRequest } from '../../kv/pending-requests.js';

interface Named extends PendingRequest {
  readonly name: string;
}

const req = (name: string, write = true): Named => ({ write, name });
const names = (requests: readonly Named[]): string[] => requests.map((r) => r.name);

describe('PendingRequests', () => {
  it('numbers requests consecutively from a seeded random start', () => {
    const first = (seed: number): number =>
      new PendingRequests<Named>(new SeededRandom(seed), 3).add(req('a'));
    expect(first(1)).toBe(first(1));
    expect(first(1)).not.toBe(first(2));
    expect(first(2)).not.toBe(first(3));
    const pending = new PendingRequests<Named>(new SeededRandom(7), 3);
    const a = pending.add(req('a'));
    expect(a).toBeGreaterThanOrEqual(1);
    expect(Number.isSafeInteger(a)).toBe(true);
    expect(pending.add(req('b'))).toBe(a + 1);
  });

  it('hands a request out once: take, then undefined', () => {
    const pending = new PendingRequests<Named>(new SeededRandom(1), 3);
    const a = pending.add(req('a', false));
    const b = pending.add(req('b'));
    expect(pending.size).toBe(2);
    expect(pending.peek(a)).toMatchObject({ name: 'a', write: false });
    expect(pending.take(a)).toMatchObject({ name: 'a', write: false });
    expect(pending.take(a)).toBeUndefined();
    expect(pending.peek(a)).toBeUndefined();
    expect(pending.size).toBe(1);
    expect(pending.take(b + 1)).toBeUndefined();
    expect(pending.take(b)?.name).toBe('b');
    expect(pending.size).toBe(0);
  });

  it('expires exactly the requests whose deadline came, in insertion order', () => {
    const pending = new PendingRequests<Named>(new SeededRandom(1), 3);
    pending.add(req('a')); // tick 0: due at tick 3
    const b = pending.add(req('b'));
    pending.add(req('c'));
    expect(pending.expire()).toEqual([]); // tick 1
    pending.add(req('d')); // due at tick 4
    expect(pending.expire()).toEqual([]); // tick 2
    pending.add(req('e')); // due at tick 5
    pending.take(b);
    expect(names(pending.expire())).toEqual(['a', 'c']); // tick 3
    expect(pending.size).toBe(2);
    expect(names(pending.expire())).toEqual(['d']); // tick 4
    expect(names(pending.expire())).toEqual(['e']); // tick 5
    expect(pending.expire()).toEqual([]);
    expect(pending.size).toBe(0);
  });

  it('an expired request cannot be taken again', () => {
    const pending = new PendingRequests<Named>(new SeededRandom(1), 1);
    const a = pending.add(req('a'));
    expect(names(pending.expire())).toEqual(['a']);
    expect(pending.take(a)).toBeUndefined();
  });

  it('takeAll empties it', () => {
    const pending = new PendingRequests<Named>(new SeededRandom(1), 3);
    const a = pending.add(req('a'));
    pending.add(req('b'));
    expect(names(pending.takeAll())).toEqual(['a', 'b']);
    expect(pending.size).toBe(0);
    expect(pending.take(a)).toBeUndefined();
    expect(pending.takeAll()).toEqual([]);
    expect(pending.expire()).toEqual([]);
  });
});
