import { AssertionError } from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  decodeOperation,
  encodeOperation,
  isWrite,
  type Condition,
  type KvOperation,
  type KvWrite,
} from '../../kv/kv-operation.js';
import { KvStateMachine } from '../../replica/kv-state-machine.js';
import { COUNTER_LIMIT, MAX_EPOCH, makeZxid } from '../../kv/zxid.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);
const z = (counter: number, epoch = 1): number => makeZxid(epoch, counter);

function put(key: string, value: string, condition?: Condition): KvWrite {
  return condition === undefined
    ? { op: 'put', key, value: bytes(value) }
    : { op: 'put', key, value: bytes(value), condition };
}

function del(key: string, condition?: Condition): KvWrite {
  return condition === undefined ? { op: 'delete', key } : { op: 'delete', key, condition };
}

/** The observable contents: key → [version, value text]. */
function contents(machine: KvStateMachine, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const got = machine.get(key);
    out[key] = got.status === 200 ? [got.version, text(got.value)] : got.status;
  }
  return out;
}

describe('KvStateMachine: put, get, delete', () => {
  it('starts empty at the given applied zxid', () => {
    expect(new KvStateMachine().appliedZxid).toBe(0);
    const machine = new KvStateMachine(z(9));
    expect(machine.appliedZxid).toBe(z(9));
    expect(machine.size).toBe(0);
    expect(machine.get('a')).toEqual({ status: 404 });
  });

  it('put stores the value with the write zxid as its version', () => {
    const machine = new KvStateMachine();
    expect(machine.apply(z(1), put('a', 'one'))).toEqual({ status: 200, version: z(1) });
    expect(machine.appliedZxid).toBe(z(1));
    const got = machine.get('a');
    expect(got.status).toBe(200);
    expect(got).toMatchObject({ version: z(1) });
    expect(text((got as { value?: Uint8Array }).value)).toBe('one');
    expect(machine.size).toBe(1);
  });

  it('overwriting gives the new zxid as version and the new value', () => {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('a', 'one'));
    machine.apply(z(2), put('b', 'bee'));
    expect(machine.apply(z(3, 2), put('a', 'two'))).toEqual({ status: 200, version: z(3, 2) });
    expect(contents(machine, ['a', 'b', 'c'])).toEqual({
      a: [z(3, 2), 'two'],
      b: [z(2), 'bee'],
      c: 404,
    });
    expect(machine.size).toBe(2);
  });

  it('delete removes the key and answers 204', () => {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('a', 'one'));
    machine.apply(z(2), put('b', 'bee'));
    expect(machine.apply(z(3), del('a'))).toEqual({ status: 204 });
    expect(machine.get('a')).toEqual({ status: 404 });
    expect(machine.size).toBe(1);
    expect(machine.appliedZxid).toBe(z(3));
    // A later put starts afresh with the new version.
    expect(machine.apply(z(4), put('a', 'again'))).toEqual({ status: 200, version: z(4) });
  });

  it('delete of an absent key answers 404 and still advances appliedZxid', () => {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('b', 'bee'));
    const before = machine.digest();
    expect(machine.apply(z(2), del('a'))).toEqual({ status: 404 });
    expect(machine.appliedZxid).toBe(z(2));
    expect(machine.digest()).toBe(before);
    expect(machine.size).toBe(1);
  });

  it('keys are distinct strings (empty and unicode keys included)', () => {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('', 'empty'));
    machine.apply(z(2), put('ключ', 'unicode'));
    machine.apply(z(3), put('A', 'upper'));
    expect(contents(machine, ['', 'ключ', 'A', 'a'])).toEqual({
      '': [z(1), 'empty'],
      ключ: [z(2), 'unicode'],
      A: [z(3), 'upper'],
      a: 404,
    });
  });
});

describe('KvStateMachine: conditions', () => {
  /** A machine with a@z(1)="one", b@z(2)="bee", applied at z(2). */
  function seeded(): KvStateMachine {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('a', 'one'));
    machine.apply(z(2), put('b', 'bee'));
    return machine;
  }

  /** Applies a write that must fail with 412 and checks nothing but appliedZxid changed. */
  function expectPreconditionFailed(machine: KvStateMachine, zxid: number, write: KvWrite): void {
    const keys = ['a', 'b', 'c'];
    const before = contents(machine, keys);
    const digest = machine.digest();
    const size = machine.size;
    expect(machine.apply(zxid, write)).toEqual({ status: 412 });
    expect(contents(machine, keys)).toEqual(before);
    expect(machine.digest()).toBe(digest);
    expect(machine.size).toBe(size);
    expect(machine.appliedZxid).toBe(zxid);
  }

  it('If-Match "<v>" succeeds on the exact current version', () => {
    const machine = seeded();
    expect(machine.apply(z(3), put('a', 'two', { ifMatch: z(1) }))).toEqual({
      status: 200,
      version: z(3),
    });
    expect(contents(machine, ['a'])).toEqual({ a: [z(3), 'two'] });
  });

  it('If-Match "<v>" fails on a stale, foreign or unknown version', () => {
    const machine = seeded();
    machine.apply(z(3), put('a', 'two'));
    expectPreconditionFailed(machine, z(4), put('a', 'x', { ifMatch: z(1) })); // stale
    expectPreconditionFailed(machine, z(5), put('a', 'x', { ifMatch: z(2) })); // b's version
    expectPreconditionFailed(machine, z(6), put('a', 'x', { ifMatch: z(3) + 1 }));
    expectPreconditionFailed(machine, z(7), put('a', 'x', { ifMatch: z(3, 2) }));
    // The exact one still works afterwards: failures did not touch the version.
    expect(machine.apply(z(8), put('a', 'ok', { ifMatch: z(3) }))).toEqual({
      status: 200,
      version: z(8),
    });
  });

  it('If-Match "<v>" on an absent key fails', () => {
    const machine = seeded();
    expectPreconditionFailed(machine, z(3), put('c', 'x', { ifMatch: z(1) }));
  });

  it('If-Match * succeeds only when the key is present', () => {
    const machine = seeded();
    expectPreconditionFailed(machine, z(3), put('c', 'x', { ifMatch: '*' }));
    expect(machine.apply(z(4), put('a', 'star', { ifMatch: '*' }))).toEqual({
      status: 200,
      version: z(4),
    });
    expect(contents(machine, ['a'])).toEqual({ a: [z(4), 'star'] });
  });

  it('If-None-Match * succeeds only when the key is absent', () => {
    const machine = seeded();
    expectPreconditionFailed(machine, z(3), put('a', 'x', { ifNoneMatch: '*' }));
    expect(machine.apply(z(4), put('c', 'new', { ifNoneMatch: '*' }))).toEqual({
      status: 200,
      version: z(4),
    });
    expect(contents(machine, ['c'])).toEqual({ c: [z(4), 'new'] });
    // Now present: a second create fails.
    expectPreconditionFailed(machine, z(5), put('c', 'again', { ifNoneMatch: '*' }));
  });

  it('If-None-Match * succeeds again after the key is deleted', () => {
    const machine = seeded();
    machine.apply(z(3), del('a'));
    expect(machine.apply(z(4), put('a', 'fresh', { ifNoneMatch: '*' }))).toEqual({
      status: 200,
      version: z(4),
    });
  });

  it('conditional DELETE: If-Match exact version deletes, a wrong one gives 412', () => {
    const machine = seeded();
    expectPreconditionFailed(machine, z(3), del('a', { ifMatch: z(2) }));
    expectPreconditionFailed(machine, z(4), del('a', { ifNoneMatch: '*' }));
    expect(machine.apply(z(5), del('a', { ifMatch: z(1) }))).toEqual({ status: 204 });
    expect(machine.get('a')).toEqual({ status: 404 });
    expect(machine.apply(z(6), del('b', { ifMatch: '*' }))).toEqual({ status: 204 });
    expect(machine.size).toBe(0);
  });

  it('DELETE of an absent key: 404 unconditionally or with If-None-Match *, 412 with If-Match', () => {
    const machine = seeded();
    expect(machine.apply(z(3), del('c'))).toEqual({ status: 404 });
    expect(machine.apply(z(4), del('c', { ifNoneMatch: '*' }))).toEqual({ status: 404 });
    expectPreconditionFailed(machine, z(5), del('c', { ifMatch: '*' }));
    expectPreconditionFailed(machine, z(6), del('c', { ifMatch: z(1) }));
    expect(machine.appliedZxid).toBe(z(6));
  });
});

describe('KvStateMachine: apply order', () => {
  it('rejects a zxid equal to or below the applied one, changing nothing', () => {
    const machine = new KvStateMachine();
    machine.apply(z(5), put('a', 'one'));
    const digest = machine.digest();
    expect(() => machine.apply(z(5), put('a', 'two'))).toThrow(AssertionError);
    expect(() => machine.apply(z(4), put('b', 'two'))).toThrow(AssertionError);
    expect(() => machine.apply(0, del('a'))).toThrow(AssertionError);
    expect(machine.appliedZxid).toBe(z(5));
    expect(machine.digest()).toBe(digest);
    expect(contents(machine, ['a', 'b'])).toEqual({ a: [z(5), 'one'], b: 404 });
  });

  it('respects the applied zxid given at construction', () => {
    const machine = new KvStateMachine(z(3, 2));
    expect(() => machine.apply(z(9, 1), put('a', 'x'))).toThrow(AssertionError);
    expect(() => machine.apply(z(3, 2), put('a', 'x'))).toThrow(AssertionError);
    expect(machine.apply(z(1, 3), put('a', 'x'))).toEqual({ status: 200, version: z(1, 3) });
  });

  it('a write whose condition failed still uses up its zxid', () => {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('a', 'one', { ifMatch: '*' })); // 412, applied = z(1)
    expect(machine.appliedZxid).toBe(z(1));
    expect(() => machine.apply(z(1), put('a', 'one'))).toThrow(AssertionError);
  });
});

describe('KvStateMachine: snapshot encode/decode', () => {
  function busy(): KvStateMachine {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('a', 'one'));
    machine.apply(z(2), put('b', ''));
    machine.apply(z(3), put('c', 'sea'));
    machine.apply(z(4), del('b'));
    machine.apply(z(1, 2), put('a', 'two'));
    machine.apply(z(2, 2), put('d', 'x', { ifMatch: '*' })); // 412
    machine.apply(z(3, 2), put('e', ''));
    return machine;
  }

  it('keeps contents, versions, appliedZxid and digest', () => {
    const machine = busy();
    const copy = KvStateMachine.decode(machine.encode());
    const keys = ['a', 'b', 'c', 'd', 'e'];
    expect(contents(copy, keys)).toEqual(contents(machine, keys));
    expect(contents(copy, keys)).toEqual({
      a: [z(1, 2), 'two'],
      b: 404,
      c: [z(3), 'sea'],
      d: 404,
      e: [z(3, 2), ''],
    });
    expect(copy.appliedZxid).toBe(z(3, 2));
    expect(copy.size).toBe(3);
    expect(copy.digest()).toBe(machine.digest());
  });

  it('keeps binary values byte for byte', () => {
    const machine = new KvStateMachine();
    const value = new Uint8Array([0, 255, 1, 128, 0xc1, 0x92]);
    machine.apply(z(1), { op: 'put', key: 'bin', value });
    const got = KvStateMachine.decode(machine.encode()).get('bin');
    expect(got.status).toBe(200);
    expect([...(got as { value: Uint8Array }).value]).toEqual([...value]);
  });

  it('a decoded machine continues where the original left off', () => {
    const machine = busy();
    const copy = KvStateMachine.decode(machine.encode());
    expect(() => copy.apply(z(3, 2), put('a', 'x'))).toThrow(AssertionError);
    const write = put('a', 'three', { ifMatch: z(1, 2) });
    expect(copy.apply(z(4, 2), write)).toEqual(machine.apply(z(4, 2), write));
    expect(copy.digest()).toBe(machine.digest());
  });

  it('round-trips an empty machine and its applied zxid', () => {
    const machine = new KvStateMachine(z(17, 4));
    const copy = KvStateMachine.decode(machine.encode());
    expect(copy.appliedZxid).toBe(z(17, 4));
    expect(copy.size).toBe(0);
    expect(copy.digest()).toBe(machine.digest());
  });

  it('round-trips the largest zxids', () => {
    const top = makeZxid(MAX_EPOCH, COUNTER_LIMIT);
    const machine = new KvStateMachine(top - 1);
    machine.apply(top, put('k', 'v'));
    const copy = KvStateMachine.decode(machine.encode());
    expect(copy.appliedZxid).toBe(top);
    expect(copy.get('k')).toMatchObject({ status: 200, version: top });
  });
});

describe('KvStateMachine: digest', () => {
  it('is equal for equal contents regardless of insertion order', () => {
    // Map iteration order is insertion order; a re-put keeps the key's position.
    const first = new KvStateMachine();
    first.apply(z(1), put('a', 'x'));
    first.apply(z(2), put('b', 'y'));
    first.apply(z(3), put('a', 'z'));
    const second = new KvStateMachine();
    second.apply(z(1), put('b', 'old'));
    second.apply(z(2), put('b', 'y'));
    second.apply(z(3), put('a', 'z'));
    // Same contents, inserted a-then-b vs b-then-a.
    expect(contents(first, ['a', 'b'])).toEqual(contents(second, ['a', 'b']));
    expect(first.digest()).toBe(second.digest());
  });

  it('does not depend on the applied zxid, only on contents', () => {
    const first = new KvStateMachine();
    first.apply(z(1), put('a', 'x'));
    const second = new KvStateMachine();
    second.apply(z(1), put('a', 'x'));
    second.apply(z(2), put('a', 'no', { ifNoneMatch: '*' })); // 412
    second.apply(z(3), del('missing')); // 404
    expect(second.appliedZxid).not.toBe(first.appliedZxid);
    expect(second.digest()).toBe(first.digest());
    expect(new KvStateMachine(5).digest()).toBe(new KvStateMachine().digest());
  });

  it('differs for different contents', () => {
    const build = (writes: [number, KvWrite][]): string => {
      const machine = new KvStateMachine();
      for (const [zxid, write] of writes) machine.apply(zxid, write);
      return machine.digest();
    };
    const digests = [
      build([]),
      build([[z(1), put('a', 'x')]]),
      build([[z(1), put('a', 'y')]]), // different value
      build([[z(2), put('a', 'x')]]), // different version
      build([[z(1), put('b', 'x')]]), // different key
      build([
        [z(1), put('a', 'x')],
        [z(2), put('b', 'x')],
      ]), // extra key
      build([[z(1), put('ab', 'c')]]), // framing: key/value boundary moved
      build([[z(1), put('a', 'bc')]]),
      build([[z(1), put('a', '')]]),
      build([[z(1), put('', 'a')]]),
    ];
    expect(new Set(digests).size).toBe(digests.length);
  });

  it('returns to the earlier digest when the contents return', () => {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('a', 'x'));
    const before = machine.digest();
    machine.apply(z(2), put('b', 'y'));
    expect(machine.digest()).not.toBe(before);
    machine.apply(z(3), del('b'));
    expect(machine.digest()).toBe(before);
  });
});

describe('kv-operation encode/decode', () => {
  const conditions: (Condition | undefined)[] = [
    undefined,
    { ifMatch: z(1) },
    { ifMatch: 1 },
    { ifMatch: makeZxid(MAX_EPOCH, COUNTER_LIMIT) },
    { ifMatch: '*' },
    { ifNoneMatch: '*' },
  ];
  const operations: KvOperation[] = [
    { op: 'get', key: 'k', consistency: 'linearizable' },
    { op: 'get', key: '', consistency: 'stale' },
  ];
  for (const condition of conditions) {
    const withCondition = condition === undefined ? {} : { condition };
    operations.push({ op: 'put', key: 'k', value: bytes('v'), ...withCondition });
    operations.push({ op: 'put', key: 'ключ', value: new Uint8Array(0), ...withCondition });
    operations.push({ op: 'delete', key: 'k', ...withCondition });
  }

  /** Normalises a decoded operation so Buffer and Uint8Array values compare equal. */
  function plain(operation: KvOperation | null): unknown {
    if (operation === null || operation.op !== 'put') return operation;
    return { ...operation, value: [...operation.value] };
  }

  it.each(operations.map((op) => [JSON.stringify(op), op] as const))('round-trips %s', (_, op) => {
    const decoded = decodeOperation(encodeOperation(op));
    expect(plain(decoded)).toEqual(plain(op));
    if (decoded !== null && op.op !== 'get') {
      expect(decoded.op === 'get' ? undefined : decoded.condition).toEqual(op.condition);
      expect('condition' in decoded).toBe(op.condition !== undefined);
    }
    if (decoded?.op === 'put') expect(decoded.value).toBeInstanceOf(Uint8Array);
  });

  it('round-trips binary values byte for byte', () => {
    const value = new Uint8Array(300);
    for (let i = 0; i < value.length; i++) value[i] = (i * 37) & 0xff;
    const decoded = decodeOperation(encodeOperation({ op: 'put', key: 'b', value }));
    expect(decoded?.op).toBe('put');
    expect([...(decoded as { value: Uint8Array }).value]).toEqual([...value]);
  });

  it('isWrite tells writes from reads', () => {
    expect(isWrite({ op: 'put', key: 'k', value: bytes('v') })).toBe(true);
    expect(isWrite({ op: 'delete', key: 'k' })).toBe(true);
    expect(isWrite({ op: 'get', key: 'k', consistency: 'stale' })).toBe(false);
  });

  const packr = new Packr({ useRecords: false, moreTypes: false });
  const pack = (value: unknown): Uint8Array => packr.pack(value);

  it('sanity: the hand-packed shapes below are what encodeOperation produces', () => {
    expect([...encodeOperation({ op: 'delete', key: 'k' })]).toEqual([...pack([2, 'k', 0])]);
    expect([...encodeOperation({ op: 'get', key: 'k', consistency: 'stale' })]).toEqual([
      ...pack([3, 'k', 1]),
    ]);
    expect(decodeOperation(pack([2, 'k', 0]))).toEqual({ op: 'delete', key: 'k' });
    expect(decodeOperation(pack([2, 'k', 7]))).toEqual({
      op: 'delete',
      key: 'k',
      condition: { ifMatch: 7 },
    });
    expect(plain(decodeOperation(pack([1, 'k', -1, bytes('v')])))).toEqual({
      op: 'put',
      key: 'k',
      value: [...bytes('v')],
      condition: { ifNoneMatch: '*' },
    });
  });

  it.each([
    ['empty input', new Uint8Array(0)],
    ['a reserved msgpack byte', new Uint8Array([0xc1])],
    ['a truncated array', new Uint8Array([0x94, 0x01])],
    ['a truncated string', new Uint8Array([0x93, 0x02, 0xa5, 0x61])],
  ])('returns null for garbage bytes: %s', (_, payload) => {
    expect(decodeOperation(payload)).toBeNull();
  });

  it.each([
    ['a number', 1],
    ['a string', 'put'],
    ['null', null],
    ['a map', { op: 'put', key: 'k', value: bytes('v') }],
    ['an empty array', []],
    ['an unknown type', [4, 'k', 0]],
    ['type 0', [0, 'k', 0]],
    ['a string type', ['put', 'k', 0, bytes('v')]],
    ['put without a value', [1, 'k', 0]],
    ['put with a string value', [1, 'k', 0, 'v']],
    ['put with a number value', [1, 'k', 0, 5]],
    ['put with an extra field', [1, 'k', 0, bytes('v'), 1]],
    ['delete with an extra field', [2, 'k', 0, bytes('v')]],
    ['delete without a condition field', [2, 'k']],
    ['get without consistency', [3, 'k']],
    ['get with consistency 2', [3, 'k', 2]],
    ['get with consistency -1', [3, 'k', -1]],
    ['get with an extra field', [3, 'k', 0, 0]],
  ])('returns null for a wrong shape: %s', (_, value) => {
    expect(decodeOperation(pack(value))).toBeNull();
  });

  it.each([
    ['-3', -3],
    ['a fraction', 1.5],
    ['an unsafe integer', 2 ** 53 + 2],
    ['a string "*"', '*'],
    ['a string number', '5'],
    ['null', null],
    ['true', true],
    ['an array', [5]],
  ])('returns null for a bad condition code: %s', (_, code) => {
    expect(decodeOperation(pack([1, 'k', code, bytes('v')]))).toBeNull();
    expect(decodeOperation(pack([2, 'k', code]))).toBeNull();
  });

  it.each([
    ['a number', 7],
    ['null', null],
    ['bytes', bytes('k')],
    ['an array', ['k']],
    ['a map', { k: 1 }],
    ['a boolean', false],
  ])('returns null for a non-string key: %s', (_, key) => {
    expect(decodeOperation(pack([1, key, 0, bytes('v')]))).toBeNull();
    expect(decodeOperation(pack([2, key, 0]))).toBeNull();
    expect(decodeOperation(pack([3, key, 0]))).toBeNull();
  });
});

describe('If-Match versions on the wire', () => {
  it('refuses to encode a version that is not a positive integer (0, -1, -2 are condition codes)', () => {
    for (const version of [0, -1, -2, 1.5]) {
      expect(() =>
        encodeOperation({
          op: 'put',
          key: 'k',
          value: new Uint8Array(),
          condition: { ifMatch: version },
        }),
      ).toThrow(RangeError);
    }
  });
});

describe('KvStateMachine: the bytes the quota counts', () => {
  it('sums key (UTF-8) and value bytes as entries are put, overwritten and deleted', () => {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('a', 'xyz'));
    expect(machine.bytes).toBe(4);
    machine.apply(z(2), put('é', '12345')); // a 2-byte key
    expect(machine.bytes).toBe(4 + 7);
    expect(machine.bytesOf('é')).toBe(7);
    machine.apply(z(3), put('a', 'x')); // shrinks
    expect(machine.bytes).toBe(2 + 7);
    machine.apply(z(4), put('a', 'longer', { ifMatch: 99 })); // 412: nothing changes
    expect(machine.bytes).toBe(2 + 7);
    machine.apply(z(5), del('é'));
    machine.apply(z(6), del('missing'));
    expect(machine.bytes).toBe(2);
    expect(machine.bytesOf('é')).toBe(0);
  });

  it('counts the same bytes after a snapshot round trip', () => {
    const machine = new KvStateMachine();
    machine.apply(z(1), put('key', 'value'));
    machine.apply(z(2), put('k2', ''));
    expect(KvStateMachine.decode(machine.encode()).bytes).toBe(machine.bytes);
    expect(machine.bytes).toBe(8 + 2);
  });
});
