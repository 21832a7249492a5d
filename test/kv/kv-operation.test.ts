import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  decodeOperation,
  encodeOperation,
  isWrite,
  type Condition,
  type KvOperation,
} from '../../kv/kv-operation.js';
import { COUNTER_LIMIT, MAX_EPOCH, makeZxid } from '../../kv/zxid.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const z = (counter: number, epoch = 1): number => makeZxid(epoch, counter);

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
    if (decoded?.op === 'put' || decoded?.op === 'delete') {
      if (op.op !== 'put' && op.op !== 'delete') throw new Error('decoded as another op');
      expect(decoded.condition).toEqual(op.condition);
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
