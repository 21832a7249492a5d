import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { KvTxn, TxnOp, TxnResult } from '../kv/txn.js';
import { txnBeyondLimits } from '../kv/txn.js';
import { MAX_TXN_OPS_COUNT } from '../components/limits.js';

/** A transaction, in one group (README, HTTP API). */
export const TXN_ROUTE = '/txn';

const key = Type.String({ minLength: 1 });
const version = Type.String({ pattern: '^(0|[1-9][0-9]{0,15})$' });
const value = { value: Type.Optional(Type.String()), valueBase64: Type.Optional(Type.String()) };
const op = Type.Union([
  Type.Object(
    { put: Type.Object({ key, ...value }, { additionalProperties: false }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { delete: Type.Object({ key }, { additionalProperties: false }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { get: Type.Object({ key }, { additionalProperties: false }) },
    { additionalProperties: false },
  ),
]);
const ops = Type.Optional(Type.Array(op, { maxItems: MAX_TXN_OPS_COUNT }));

/** `POST /txn`'s body (README, HTTP API): versions are decimal strings, "0" = the key is absent. */
const txnBody = Type.Object(
  {
    compare: Type.Optional(
      Type.Array(Type.Object({ key, version }, { additionalProperties: false }), {
        maxItems: MAX_TXN_OPS_COUNT,
      }),
    ),
    success: ops,
    failure: ops,
  },
  { additionalProperties: false },
);

const check = TypeCompiler.Compile(txnBody);

/** The transaction in a request body, or why it is not one (a 400's detail). */
export function txnOfBody(body: Buffer): KvTxn | string {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return 'the body is not JSON';
  }
  if (!check.Check(json)) {
    const first = check.Errors(json).First();
    return first === undefined ? 'not a transaction' : `${first.path || '/'}: ${first.message}`;
  }
  const opOf = (o: Static<typeof op>): TxnOp | string => {
    if ('get' in o) return { op: 'get', key: o.get.key };
    if ('delete' in o) return { op: 'delete', key: o.delete.key };
    const { value: text, valueBase64 } = o.put;
    if ((text === undefined) === (valueBase64 === undefined))
      return 'a put has one of value (UTF-8 text) and valueBase64';
    const bytes = text !== undefined ? Buffer.from(text, 'utf8') : base64Bytes(valueBase64!);
    if (bytes === null) return 'valueBase64 is not base64';
    return { op: 'put', key: o.put.key, value: bytes };
  };
  const branch = (list: readonly Static<typeof op>[] | undefined): TxnOp[] | string => {
    const decoded: TxnOp[] = [];
    for (const o of list ?? []) {
      const one = opOf(o);
      if (typeof one === 'string') return one;
      decoded.push(one);
    }
    return decoded;
  };
  const success = branch(json.success);
  const failure = branch(json.failure);
  if (typeof success === 'string') return success;
  if (typeof failure === 'string') return failure;
  const txn: KvTxn = {
    op: 'txn',
    compare: (json.compare ?? []).map((c) => ({ key: c.key, version: Number(c.version) })),
    success,
    failure,
  };
  return txnBeyondLimits(txn) ?? txn;
}

/**
 * The bytes of standard base64 (padded or not), or null: Node's decoder skips what is not
 * base64 and stops at padding, so "aGVsbG8=garbage" stored "hello" and "!!!" some bytes.
 */
function base64Bytes(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64');
  const unpadded = (s: string) => s.replace(/=+$/, '');
  return unpadded(bytes.toString('base64')) === unpadded(text) ? bytes : null;
}

/** A value as JSON: UTF-8 text when it is, else base64 (as `zabkv get -w json`). */
export function valueFields(bytes: Uint8Array): { value: string } | { valueBase64: string } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buffer.toString('utf8');
  return Buffer.from(text, 'utf8').equals(buffer)
    ? { value: text }
    : { valueBase64: buffer.toString('base64') };
}

/** `POST /txn`'s 200 body: versions as decimal strings, a get of an absent key with version "0". */
export function txnAnswer(result: TxnResult, zxid: number): object {
  return {
    succeeded: result.succeeded,
    results: result.results.map((r) => {
      if (r.op === 'put') return { put: { key: r.key, version: String(r.version) } };
      if (r.op === 'delete') return { delete: { key: r.key, deleted: r.deleted } };
      return {
        get: {
          key: r.key,
          version: String(r.version),
          ...(r.value === undefined ? {} : valueFields(r.value)),
        },
      };
    }),
    version: String(zxid),
  };
}
