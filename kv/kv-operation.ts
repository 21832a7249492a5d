import { Packr } from 'msgpackr';
import { txnFields, txnOfFields, type KvTxn, type TxnResult } from './txn.js';
import {
  deleteRangeOfFields,
  rangeFields,
  rangeOfFields,
  type KvDeleteRange,
  type KvRange,
  type RangeResult,
} from './range.js';

export type { KvTxn } from './txn.js';
export type { KvDeleteRange, KvRange } from './range.js';

/** If-Match: "<version>", If-Match: *, If-None-Match: * (DESIGN §7). */
export type Condition = { readonly ifMatch: number | '*' } | { readonly ifNoneMatch: '*' };

export type KvWrite =
  | {
      readonly op: 'put';
      readonly key: string;
      readonly value: Uint8Array;
      readonly condition?: Condition;
    }
  | { readonly op: 'delete'; readonly key: string; readonly condition?: Condition };

export type KvRead = {
  readonly op: 'get';
  readonly key: string;
  /** `stale` is served from the local replica's applied state, labelled as such. */
  readonly consistency: 'linearizable' | 'stale';
};

export type KvOperation = KvWrite | KvRead | KvTxn | KvRange | KvDeleteRange;

/** What the log holds: evaluated at apply, in log order, on every replica. */
export type KvLogged = KvWrite | KvTxn | KvDeleteRange;

/**
 * What an operation produced. 503: it provably did not happen (no leader, no quorum, node
 * shutting down). 504: it may or may not have happened (timed out or lost in flight). 507:
 * it did not happen because the group's data is at its quota (refused before proposing).
 */
export type KvOutcome =
  /**
   * A transaction's (and a prefix delete batch's) answer has `txn`; its `version` is the zxid
   * it was applied at. A range's has `range`; its `version` is the zxid it was read at.
   */
  | {
      readonly status: 200;
      readonly version: number;
      readonly value?: Uint8Array;
      readonly txn?: TxnResult;
      readonly range?: RangeResult;
    }
  | { readonly status: 204 | 404 }
  /**
   * The condition did not hold. `current` is what the key held when the write was applied,
   * so a compare-and-set loop needs no extra read: its version, or null when it was absent;
   * undefined when not known.
   */
  | { readonly status: 412; readonly current?: number | null }
  | { readonly status: 503 | 504; readonly reason: string }
  /** A transaction names keys of more than one group: refused before anything was proposed. */
  | {
      readonly status: 422;
      readonly reason: string;
      readonly groups: Readonly<Record<string, number>>;
    }
  /** `cause` says which limit refused the write: the group's quota or free disk space. */
  | { readonly status: 507; readonly reason: string; readonly cause: 'quota' | 'disk' };

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * A write is logged as the request itself and evaluated when it is applied: every replica
 * applies the same log in the same order, so a condition is always checked against the
 * state right before the write, never against a stale copy (a failed condition is a logged
 * no-op answered 412 at commit, as ZooKeeper logs error txns).
 */
export function encodeOperation(operation: KvOperation): Uint8Array {
  if (operation.op === 'txn') return packr.pack([4, ...txnFields(operation)]);
  if (operation.op === 'range') return packr.pack([5, ...rangeFields(operation)]);
  if (operation.op === 'deleteRange') return packr.pack([6, ...rangeFields(operation)]);
  const condition = operation.op === 'get' ? undefined : operation.condition;
  const cond =
    condition === undefined
      ? 0
      : 'ifNoneMatch' in condition
        ? -1
        : condition.ifMatch === '*'
          ? -2
          : positiveVersion(condition.ifMatch);
  switch (operation.op) {
    case 'put':
      return packr.pack([1, operation.key, cond, operation.value]);
    case 'delete':
      return packr.pack([2, operation.key, cond]);
    case 'get':
      return packr.pack([3, operation.key, operation.consistency === 'stale' ? 1 : 0]);
  }
}

/** Versions are zxids, always > 0; the codes 0, -1, -2 mean "none", If-None-Match *, If-Match *. */
function positiveVersion(version: number): number {
  if (!(Number.isSafeInteger(version) && version > 0)) {
    throw new RangeError(`If-Match version must be a positive integer, got ${version}`);
  }
  return version;
}

function decodeCondition(code: unknown): Condition | undefined | null {
  if (code === 0) return undefined;
  if (code === -1) return { ifNoneMatch: '*' };
  if (code === -2) return { ifMatch: '*' };
  if (typeof code === 'number' && Number.isSafeInteger(code) && code > 0) return { ifMatch: code };
  return null;
}

/** The operation in `payload`, or null if it is not a well-formed operation (untrusted input). */
export function decodeOperation(payload: Uint8Array): KvOperation | null {
  let fields: unknown;
  try {
    fields = packr.unpack(payload);
  } catch {
    return null;
  }
  if (Array.isArray(fields) && fields[0] === 4) return txnOfFields(fields.slice(1));
  if (Array.isArray(fields) && fields[0] === 5) return rangeOfFields(fields.slice(1));
  if (Array.isArray(fields) && fields[0] === 6) return deleteRangeOfFields(fields.slice(1));
  if (!Array.isArray(fields) || typeof fields[1] !== 'string') return null;
  const [type, key] = fields as [unknown, string];
  if (type === 3 && fields.length === 3 && (fields[2] === 0 || fields[2] === 1)) {
    return { op: 'get', key, consistency: fields[2] === 1 ? 'stale' : 'linearizable' };
  }
  const condition = decodeCondition(fields[2]);
  if (condition === null) return null;
  const withCondition = condition === undefined ? {} : { condition };
  if (type === 1 && fields.length === 4 && fields[3] instanceof Uint8Array) {
    return { op: 'put', key, value: fields[3], ...withCondition };
  }
  if (type === 2 && fields.length === 3) return { op: 'delete', key, ...withCondition };
  return null;
}

/**
 * Logged: a put, a delete, a prefix delete batch or a transaction (even one that only reads: it
 * is evaluated at apply).
 */
export function isWrite(operation: KvOperation): operation is KvLogged {
  return operation.op !== 'get' && operation.op !== 'range';
}

/** Served from a replica's applied state, after the read barrier or stale. */
export type KvReadOperation = KvRead | KvRange;
