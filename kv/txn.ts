import {
  MAX_KEY_BYTES,
  MAX_TXN_GETS_COUNT,
  MAX_TXN_OPS_COUNT,
  MAX_VALUE_BYTES,
  TXN_OP_OVERHEAD_BYTES,
} from '../components/limits.js';

/**
 * A transaction in one group (etcd's Txn, ZooKeeper's multi): if every compare holds, the
 * `success` ops run, else the `failure` ops, all at the zxid of the one log entry that carries it.
 */
export interface KvTxn {
  readonly op: 'txn';
  readonly compare: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

/** Holds when the key's version is `version`; 0 means "the key is absent". */
export interface TxnCompare {
  readonly key: string;
  readonly version: number;
}

export type TxnOp =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'get'; readonly key: string };

/** What one op of the branch that ran did, in order. A get of an absent key has version 0. */
export type TxnOpResult =
  | { readonly op: 'put'; readonly key: string; readonly version: number }
  | { readonly op: 'delete'; readonly key: string; readonly deleted: boolean }
  | {
      readonly op: 'get';
      readonly key: string;
      readonly version: number;
      readonly value?: Uint8Array;
    };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly results: readonly TxnOpResult[];
}

/** Every key a transaction names (compares and both branches), each once. */
export function txnKeys(txn: KvTxn): string[] {
  return [
    ...new Set([
      ...txn.compare.map((c) => c.key),
      ...txn.success.map((o) => o.key),
      ...txn.failure.map((o) => o.key),
    ]),
  ];
}

/**
 * Why `txn` is beyond what is accepted, or null. Checked at the HTTP edge and again for what a
 * peer sends (hostile input): at most MAX_TXN_OPS_COUNT compares and ops together, valid keys,
 * no key written twice in one branch (its outcome would depend on op order), and keys plus values
 * within one value's budget, so the logged entry fits MAX_OPERATION_BYTES like any write.
 */
/** With the u flag, a surrogate pair is one code point: only a lone surrogate matches. */
const LONE_SURROGATE = /\p{Surrogate}/u;

export function txnBeyondLimits(txn: KvTxn): string | null {
  const count = txn.compare.length + txn.success.length + txn.failure.length;
  if (count === 0) return 'an empty transaction';
  if (count > MAX_TXN_OPS_COUNT) return `over ${MAX_TXN_OPS_COUNT} compares and ops`;
  let bytes = 0;
  for (const { key } of [...txn.compare, ...txn.success, ...txn.failure]) {
    const keyBytes = Buffer.byteLength(key, 'utf8');
    if (keyBytes === 0 || keyBytes > MAX_KEY_BYTES)
      return `a key is not 1 to ${MAX_KEY_BYTES} bytes`;
    // Written as UTF-8, a lone surrogate becomes U+FFFD: two keys of the request one stored
    // key (past the "written twice" check), and none a URL can name.
    if (LONE_SURROGATE.test(key)) return 'a key is not well-formed Unicode (a lone surrogate)';
    bytes += keyBytes + TXN_OP_OVERHEAD_BYTES;
  }
  // Past 2^53 a version is a float in msgpack, which the log's reader refuses: logged, the
  // entry would stop the group (its followers refuse it) and its leader on every restart.
  for (const { version } of txn.compare) {
    if (!(Number.isSafeInteger(version) && version >= 0))
      return `version ${version} is out of range`;
  }
  for (const branch of [txn.success, txn.failure]) {
    if (branch.filter((op) => op.op === 'get').length > MAX_TXN_GETS_COUNT)
      return `over ${MAX_TXN_GETS_COUNT} gets in one branch`;
    const written = new Set<string>();
    for (const op of branch) {
      if (op.op === 'get') continue;
      if (written.has(op.key)) return `key ${JSON.stringify(op.key)} written twice in one branch`;
      written.add(op.key);
      if (op.op === 'put') bytes += op.value.byteLength;
    }
  }
  if (bytes > MAX_VALUE_BYTES) return `keys and values over ${MAX_VALUE_BYTES} bytes`;
  return null;
}

const CODES = { put: 1, delete: 2, get: 3 } as const;

/** The logged form's body: [[key, version]…], [op…], [op…], an op [code, key, value?]. */
export function txnFields(txn: KvTxn): unknown[] {
  const ops = (branch: readonly TxnOp[]) =>
    branch.map((o) => (o.op === 'put' ? [1, o.key, o.value] : [CODES[o.op], o.key]));
  return [txn.compare.map((c) => [c.key, c.version]), ops(txn.success), ops(txn.failure)];
}

/** The transaction in decoded msgpack `fields`, or null if it is not one (untrusted input). */
export function txnOfFields(fields: readonly unknown[]): KvTxn | null {
  if (fields.length !== 3) return null;
  const [compares, success, failure] = fields;
  if (!Array.isArray(compares) || !Array.isArray(success) || !Array.isArray(failure)) return null;
  const compare: TxnCompare[] = [];
  for (const c of compares as unknown[]) {
    if (!Array.isArray(c) || c.length !== 2 || typeof c[0] !== 'string') return null;
    const version: unknown = c[1];
    if (!(typeof version === 'number' && Number.isSafeInteger(version) && version >= 0))
      return null;
    compare.push({ key: c[0], version });
  }
  const ops = (branch: unknown[]): TxnOp[] | null => {
    const decoded: TxnOp[] = [];
    for (const o of branch) {
      if (!Array.isArray(o) || typeof o[1] !== 'string') return null;
      const key = o[1];
      if (o[0] === 1 && o.length === 3 && o[2] instanceof Uint8Array)
        decoded.push({ op: 'put', key, value: o[2] });
      else if (o[0] === 2 && o.length === 2) decoded.push({ op: 'delete', key });
      else if (o[0] === 3 && o.length === 2) decoded.push({ op: 'get', key });
      else return null;
    }
    return decoded;
  };
  const successOps = ops(success as unknown[]);
  const failureOps = ops(failure as unknown[]);
  if (successOps === null || failureOps === null) return null;
  return { op: 'txn', compare, success: successOps, failure: failureOps };
}

/** A result's wire form, for the answer that crosses the network (kv.Response `txn`). */
export function txnResultFields(result: TxnResult): unknown[] {
  return [
    result.succeeded,
    result.results.map((r) =>
      r.op === 'put'
        ? [1, r.key, r.version]
        : r.op === 'delete'
          ? [2, r.key, r.deleted]
          : r.value === undefined
            ? [3, r.key, r.version]
            : [3, r.key, r.version, r.value],
    ),
  ];
}

/** The result in decoded msgpack `fields`, or null if it is not one (untrusted input). */
export function txnResultOfFields(fields: unknown): TxnResult | null {
  if (!Array.isArray(fields) || fields.length !== 2 || typeof fields[0] !== 'boolean') return null;
  if (!Array.isArray(fields[1])) return null;
  const results: TxnOpResult[] = [];
  for (const r of fields[1] as unknown[]) {
    if (!Array.isArray(r) || typeof r[1] !== 'string') return null;
    const [code, key, third, value] = r as [unknown, string, unknown, unknown];
    const version = typeof third === 'number' && Number.isSafeInteger(third) && third >= 0;
    if (code === 1 && r.length === 3 && version) results.push({ op: 'put', key, version: third });
    else if (code === 2 && r.length === 3 && typeof third === 'boolean')
      results.push({ op: 'delete', key, deleted: third });
    else if (code === 3 && r.length === 3 && version)
      results.push({ op: 'get', key, version: third });
    else if (code === 3 && r.length === 4 && version && value instanceof Uint8Array)
      results.push({ op: 'get', key, version: third, value });
    else return null;
  }
  return { succeeded: fields[0], results };
}

/** `measure` summed over the puts of each branch: [success, failure] (the quota's growth). */
export function txnPutBranches(
  txn: KvTxn,
  measure: (key: string, value: Uint8Array) => number,
): [number, number] {
  const sum = (branch: readonly TxnOp[]) =>
    branch.reduce((total, op) => total + (op.op === 'put' ? measure(op.key, op.value) : 0), 0);
  return [sum(txn.success), sum(txn.failure)];
}
