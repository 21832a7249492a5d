import { Packr } from 'msgpackr';
import { plain } from './plain-values.js';
import { describe, expect, it } from 'vitest';
import {
  MAX_DELETE_BATCH_COUNT,
  MAX_KEY_BYTES,
  MAX_LIST_LIMIT_COUNT,
  MAX_LIST_PAGE_BYTES,
} from '../../components/limits.js';
import { decodeOperation, encodeOperation, isWrite } from '../../kv/kv-operation.js';
import { beyondLimits } from '../../kv/operation-limits.js';
import { outcomeFromFields, outcomeToFields } from '../../kv/outcome.js';
import type { KvDeleteRange, KvRange, RangeResult } from '../../kv/range.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const range: KvRange = {
  op: 'range',
  group: 2,
  prefix: 'app/',
  after: 'app/ключ',
  limit: 100,
  maxBytes: 4096,
  keysOnly: false,
  consistency: 'stale',
};
const batch: KvDeleteRange = { op: 'deleteRange', group: 1, prefix: 'tmp/', limit: 50 };

describe('ranges and prefix delete batches: the wire form (kv/range.ts)', () => {
  it('round-trip through encodeOperation / decodeOperation', () => {
    expect(decodeOperation(encodeOperation(range))).toEqual(range);
    const fromStart: KvRange = {
      ...range,
      after: null,
      keysOnly: true,
      consistency: 'linearizable',
    };
    expect(decodeOperation(encodeOperation(fromStart))).toEqual(fromStart);
    expect(decodeOperation(encodeOperation(batch))).toEqual(batch);
    expect(isWrite(range)).toBe(false);
    expect(isWrite(batch)).toBe(true);
  });

  it.each([
    ['a range with a field missing', [5, 0, 'p', null, 10, 100, false]],
    ['a range with a negative group', [5, -1, 'p', null, 10, 100, false, false]],
    ['a range whose prefix is not a string', [5, 0, 7, null, 10, 100, false, false]],
    ['a range whose after is a number', [5, 0, 'p', 3, 10, 100, false, false]],
    ['a range with a fractional limit', [5, 0, 'p', null, 1.5, 100, false, false]],
    ['a range whose keysOnly is not a boolean', [5, 0, 'p', null, 10, 100, 1, false]],
    ['a delete batch with an extra field', [6, 0, 'p', 10, 1]],
    ['a delete batch whose limit is a string', [6, 0, 'p', '10']],
  ])('decodes hostile input as null: %s', (_, fields) => {
    expect(decodeOperation(packr.pack(fields))).toBeNull();
  });

  it('bounds a range and a delete batch (HTTP and peers alike)', () => {
    expect(beyondLimits(range)).toBeNull();
    expect(beyondLimits({ ...range, prefix: '', after: null })).toBeNull();
    expect(beyondLimits({ ...range, limit: 0 })).toMatch(/limit/);
    expect(beyondLimits({ ...range, limit: MAX_LIST_LIMIT_COUNT + 1 })).toMatch(/limit/);
    expect(beyondLimits({ ...range, maxBytes: MAX_LIST_PAGE_BYTES + 1 })).toMatch(/page/);
    expect(beyondLimits({ ...range, prefix: 'p'.repeat(MAX_KEY_BYTES + 1) })).toMatch(/prefix/);
    expect(beyondLimits({ ...range, after: '' })).toMatch(/after/);
    expect(beyondLimits(batch)).toBeNull();
    expect(beyondLimits({ ...batch, prefix: '' })).toMatch(/needs a prefix/);
    expect(beyondLimits({ ...batch, limit: MAX_DELETE_BATCH_COUNT + 1 })).toMatch(/batch/);
  });
});

describe('a range result crossing peers (kv.Response `range`)', () => {
  const result: RangeResult = {
    items: [
      { key: 'a', version: 4294967297, value: new Uint8Array([1, 2]) },
      { key: 'b', version: 4294967298 },
    ],
    more: true,
  };

  it('round-trips with the zxid it was read at', () => {
    const outcome = { status: 200 as const, version: 4294967299, range: result };
    expect(plain(outcomeFromFields(outcomeToFields(outcome)))).toEqual(plain(outcome));
  });

  const fieldsWith = (body: unknown) => ({ status: 200, version: 1, range: packr.pack(body) });
  it.each([
    ['not an array', { more: true }],
    ['more that is not a boolean', [1, []]],
    ['an item without a version', [false, [['a']]]],
    ['a zero version', [false, [['a', 0]]]],
    ['a value that is a string', [false, [['a', 1, 'v']]]],
    ['an empty key', [false, [['', 1]]]],
    ['a key over the limit', [false, [['k'.repeat(MAX_KEY_BYTES + 1), 1]]]],
    [
      'keys out of order',
      [
        false,
        [
          ['b', 1],
          ['a', 2],
        ],
      ],
    ],
    [
      'a key twice',
      [
        false,
        [
          ['a', 1],
          ['a', 2],
        ],
      ],
    ],
    [
      'keys out of UTF-8 order',
      [
        false,
        [
          ['\uffff', 1],
          ['\u{10000}', 2],
        ].reverse(),
      ],
    ],
    [
      'too many items',
      [
        false,
        Array.from({ length: MAX_LIST_LIMIT_COUNT + 1 }, (_, i) => [
          `k${String(i).padStart(6, '0')}`,
          1,
        ]),
      ],
    ],
  ])('a malformed result is a read that did not happen (503): %s', (_, body) => {
    expect(outcomeFromFields(fieldsWith(body))).toMatchObject({ status: 503 });
  });

  it('garbage bytes are a 503 too', () => {
    const fields = { status: 200, version: 1, range: new Uint8Array([0xc1, 0xff]) };
    expect(outcomeFromFields(fields)).toMatchObject({ status: 503 });
  });
});
