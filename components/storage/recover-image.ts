import { openEntry, openSnapshot } from './stored-record.js';
import type { StoredEntry, StoredImage } from './storage-port.js';

/** What a store read back from disk, before any record was checked. */
export interface RawImage {
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  readonly voter: boolean;
  readonly snapshot: Uint8Array | null;
  readonly log: readonly Uint8Array[];
}

/**
 * Checks every record. A bad last log record is a write torn by a crash: it was never
 * durable, so it is dropped. Any other bad record, or log entries out of order, is damage the
 * node cannot explain: it keeps only its epochs (its promises must survive) and starts as an
 * empty non-voter that re-syncs from the leader, so nothing damaged is ever served.
 */
export function recoverImage(raw: RawImage): StoredImage {
  const epochs = { acceptedEpoch: raw.acceptedEpoch, currentEpoch: raw.currentEpoch };
  const corrupt: StoredImage = {
    ...epochs,
    voter: false,
    snapshot: null,
    log: [],
    damage: 'corrupt',
  };
  const snapshot = raw.snapshot === null ? null : openSnapshot(raw.snapshot);
  if (snapshot === undefined) return corrupt;
  const log: StoredEntry[] = [];
  let damage: StoredImage['damage'] = 'none';
  for (let i = 0; i < raw.log.length; i++) {
    const entry = openEntry(raw.log[i]!);
    if (entry === undefined) {
      if (i !== raw.log.length - 1) return corrupt;
      damage = 'torn-tail';
      break;
    }
    const previous = log.at(-1);
    if (previous !== undefined && entry.zxid <= previous.zxid) return corrupt;
    log.push(entry);
  }
  return { ...epochs, voter: raw.voter, snapshot, log, damage };
}
