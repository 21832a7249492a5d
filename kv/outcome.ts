import { MAX_REASON_LENGTH } from '../components/limits.js';
import { Packr } from 'msgpackr';
import type { KvOutcome } from './kv-operation.js';
import { rangeResultFields, rangeResultOfFields, type RangeResult } from './range.js';
import { txnResultFields, txnResultOfFields, type TxnResult } from './txn.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** 503: the operation provably did not happen (no leader, no quorum, shutting down). */
export function unavailable(reason: string): KvOutcome {
  return { status: 503, reason };
}

/** 504: the operation may or may not have happened (lost or timed out in flight). */
export function unknown(reason: string): KvOutcome {
  return { status: 504, reason };
}

/**
 * 507: the write did not happen: it would take the group's data past its quota. The leader
 * refuses it before proposing (etcd's NOSPACE), so it is as definite as a 503; retrying does
 * not help until keys are deleted.
 */
export function quotaExceeded(reason: string): KvOutcome {
  return { status: 507, reason, cause: 'quota' };
}

/**
 * 507: the write did not happen: the leader's disk, or those of too many replicas for a
 * quorum, are below their free-space reserve. Refused before proposing, so as definite as a
 * 503; it is worth retrying once space is freed.
 */
export function insufficientStorage(reason: string): KvOutcome {
  return { status: 507, reason, cause: 'disk' };
}

/** A 507 for disk space (insufficientStorage), not for the quota. */
export function isInsufficientStorage(outcome: KvOutcome): boolean {
  return outcome.status === 507 && outcome.cause === 'disk';
}

/**
 * A request whose answer never came: a write may have happened, a read has no effect and
 * did not happen as far as the client can tell.
 */
export function unanswered(write: boolean, reason: string): KvOutcome {
  return write ? unknown(reason) : unavailable(reason);
}

/** An outcome as flat message fields (for the answers that cross the network). */
export interface OutcomeFields {
  readonly status: number;
  readonly version?: number;
  readonly value?: Uint8Array;
  readonly reason?: string;
  readonly cause?: 'quota' | 'disk';
  /** A transaction's result (kv/txn.ts), msgpack. */
  readonly txn?: Uint8Array;
  /** A range's result (kv/range.ts), msgpack. */
  readonly range?: Uint8Array;
}

export function outcomeToFields(outcome: KvOutcome): OutcomeFields {
  return {
    status: outcome.status,
    ...('version' in outcome ? { version: outcome.version } : {}),
    // A 412's current version travels as `version`, 0 (never a version) for an absent key.
    ...(outcome.status === 412 && outcome.current !== undefined
      ? { version: outcome.current ?? 0 }
      : {}),
    ...('value' in outcome && outcome.value !== undefined ? { value: outcome.value } : {}),
    ...('reason' in outcome ? { reason: outcome.reason.slice(0, MAX_REASON_LENGTH) } : {}),
    ...('cause' in outcome ? { cause: outcome.cause } : {}),
    ...('txn' in outcome && outcome.txn !== undefined
      ? { txn: packr.pack(txnResultFields(outcome.txn)) }
      : {}),
    ...('range' in outcome && outcome.range !== undefined
      ? { range: packr.pack(rangeResultFields(outcome.range)) }
      : {}),
  };
}

export function outcomeFromFields(fields: OutcomeFields): KvOutcome {
  switch (fields.status) {
    case 200: {
      const txn = fields.txn === undefined ? undefined : txnResultOf(fields.txn);
      // A garbled result (hostile peer): the transaction may have been applied, its answer is lost.
      if (txn === null) return unknown('a peer sent a malformed transaction result');
      const range = fields.range === undefined ? undefined : rangeResultOf(fields.range);
      // A read has no effect: a garbled range is one that did not happen.
      if (range === null) return unavailable('a peer sent a malformed range result');
      return {
        status: 200,
        version: fields.version ?? 0,
        ...(fields.value === undefined ? {} : { value: fields.value }),
        ...(txn === undefined ? {} : { txn }),
        ...(range === undefined ? {} : { range }),
      };
    }
    case 204:
    case 404:
      return { status: fields.status };
    case 412:
      return fields.version === undefined
        ? { status: 412 }
        : { status: 412, current: fields.version === 0 ? null : fields.version };
    case 503:
    case 504:
      return { status: fields.status, reason: fields.reason ?? '' };
    case 507:
      return { status: 507, reason: fields.reason ?? '', cause: fields.cause ?? 'quota' };
    default:
      throw new Error(`no outcome has status ${fields.status}`);
  }
}

/** A peer's transaction result, checked like any peer input; null when it is not one. */
function txnResultOf(bytes: Uint8Array): TxnResult | null {
  try {
    return txnResultOfFields(packr.unpack(bytes));
  } catch {
    return null;
  }
}

/** A peer's range result, checked like any peer input; null when it is not one. */
function rangeResultOf(bytes: Uint8Array): RangeResult | null {
  try {
    return rangeResultOfFields(packr.unpack(bytes));
  } catch {
    return null;
  }
}
