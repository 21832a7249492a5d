import { Packr } from 'msgpackr';
import { plain } from './plain-values.js';
import { describe, expect, it } from 'vitest';
import { decodeOperation, encodeOperation } from '../../kv/kv-operation.js';
import { beyondLimits } from '../../kv/operation-limits.js';
import { outcomeFromFields, outcomeToFields } from '../../kv/outcome.js';
import { txnKeys, type KvTxn, type TxnOp } from '../../kv/txn.js';
import { MAX_OPERATION_BYTES } from '../../components/limits.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const value = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
const sample: KvTxn = {
  op: 'txn',
  compare: [
    { key: '{o}/a', version: 4294967338 },
    { key: '{o}/b', version: 0 },
  ],
  success: [
    { op: 'put', key: '{o}/a', value: value(3) },
    { op: 'delete', key: '{o}/c' },
    { op: 'get', key: 'ключ' },
  ],
  failure: [{ op: 'get', key: '{o}/a' }],
};

describe('transactions: the logged form (kv/txn.ts)', () => {
  it('round-trips through encodeOperation / decodeOperation', () => {
    const decoded = decodeOperation(encodeOperation(sample));
    expect(plain(decoded)).toEqual(plain(sample));
    expect(
      decoded?.op === 'txn' && decoded.success[0]?.op === 'put' && decoded.success[0].value,
    ).toBeInstanceOf(Uint8Array);
    expect(txnKeys(sample)).toEqual(['{o}/a', '{o}/b', '{o}/c', 'ключ']);
  });

  it.each([
    ['no branches', [4, []]],
    ['a compare that is not [key, version]', [4, [['k']], [], []]],
    ['a negative version', [4, [['k', -1]], [], []]],
    ['a fractional version', [4, [['k', 1.5]], [], []]],
    ['an unknown op code', [4, [], [[9, 'k']], []]],
    ['a put without a value', [4, [], [[1, 'k']], []]],
    ['a put with a string value', [4, [], [[1, 'k', 'v']], []]],
    ['a get with an extra field', [4, [], [], [[3, 'k', 1]]]],
    ['a key that is not a string', [4, [], [[2, 7]], []]],
    ['branches that are not arrays', [4, [], 'x', []]],
  ])('decodes hostile input as null: %s', (_, fields) => {
    expect(decodeOperation(packr.pack(fields))).toBeNull();
  });

  it('bounds a transaction: ops, keys, values, duplicate writes', () => {
    const op = (i: number): TxnOp => ({ op: 'delete', key: `k${i}` });
    const many = (n: number): KvTxn => ({
      op: 'txn',
      compare: [],
      success: Array.from({ length: n }, (_, i) => op(i)),
      failure: [],
    });
    expect(beyondLimits(many(128))).toBeNull();
    expect(beyondLimits(many(129))).toMatch(/over 128/);
    expect(beyondLimits(many(0))).toMatch(/empty/);
    // A branch's gets are bounded so that their values fit one peer frame in the answer.
    const gets = (n: number): TxnOp[] =>
      Array.from({ length: n }, (_, i): TxnOp => ({ op: 'get', key: `g${i}` }));
    expect(beyondLimits({ ...sample, success: gets(8), failure: gets(8) })).toBeNull();
    expect(beyondLimits({ ...sample, failure: gets(9) })).toMatch(/over 8 gets/);
    expect(beyondLimits({ ...sample, compare: [{ key: '', version: 0 }] })).toMatch(/key/);
    expect(beyondLimits({ ...sample, compare: [{ key: 'k'.repeat(1025), version: 0 }] })).toMatch(
      /key/,
    );
    const twice: TxnOp[] = [
      { op: 'put', key: 'k', value: value(1) },
      { op: 'delete', key: 'k' },
    ];
    expect(beyondLimits({ ...sample, success: twice })).toMatch(/written twice/);
    // The same key in both branches, or read and written, is fine.
    expect(beyondLimits({ ...sample, success: [twice[0]!], failure: [twice[1]!] })).toBeNull();
    const big: TxnOp[] = [0, 1].map((i) => ({ op: 'put', key: `k${i}`, value: value(600_000) }));
    expect(beyondLimits({ ...sample, success: big })).toMatch(/values over/);
  });

  it('the largest transaction accepted fits an operation (MAX_OPERATION_BYTES)', () => {
    const keys = 127;
    const room = 1024 * 1024 - keys * (1024 + 32) - (1024 + 32);
    const largest: KvTxn = {
      op: 'txn',
      compare: [],
      success: [
        ...Array.from({ length: keys }, (_, i): TxnOp => ({
          op: 'delete',
          key: String(i).padStart(1024, 'k'),
        })),
        { op: 'put', key: 'v'.repeat(1024), value: value(room) },
      ],
      failure: [],
    };
    expect(beyondLimits(largest)).toBeNull();
    expect(encodeOperation(largest).byteLength).toBeLessThanOrEqual(MAX_OPERATION_BYTES);
  });

  it('carries a result across the network, and a garbled one as 504 (may have happened)', () => {
    const outcome = {
      status: 200 as const,
      version: 9,
      txn: {
        succeeded: true,
        results: [
          { op: 'put' as const, key: 'a', version: 9 },
          { op: 'delete' as const, key: 'b', deleted: false },
          { op: 'get' as const, key: 'c', version: 0 },
          { op: 'get' as const, key: 'd', version: 3, value: value(2) },
        ],
      },
    };
    expect(plain(outcomeFromFields(outcomeToFields(outcome)))).toEqual(plain(outcome));
    expect(
      outcomeFromFields({ status: 200, version: 9, txn: packr.pack([true, [[7, 'a']]]) }),
    ).toMatchObject({ status: 504 });
    expect(
      outcomeFromFields({ status: 200, version: 9, txn: new Uint8Array([0xc1]) }),
    ).toMatchObject({ status: 504 });
  });
});
