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
 * Checks every record. A short last log record is a write torn by a crash: it was never
 * durable, so it is dropped. Any other bad record, or log entries out of order, is damage the
 * node cannot explain: it keeps only its epochs (its promises must survive) and starts as an
 * empty non-voter that re-syncs from the leader, so nothing damaged is ever served.
 * A store whose writes are atomic (lmdb) passes `tornTailPossible = false`: for it even a
 * short last record is damage.
 */
export function recoverImage(raw: RawImage, tornTailPossible = true): StoredImage {
  const epochs = { acceptedEpoch: raw.acceptedEpoch, currentEpoch: raw.currentEpoch };
  const corrupt: StoredImage = {
    ...epochs,
    voter: false,
    snapshot: null,
    log: [],
    damage: 'corrupt',
  };
  // Snapshots are written whole (atomically replaced), so any bad snapshot is damage.
  const snapshot = raw.snapshot === null ? null : openSnapshot(raw.snapshot);
  if (typeof snapshot === 'string') return corrupt;
  const log: StoredEntry[] = [];
  let damage: StoredImage['damage'] = 'none';
  for (let i = 0; i < raw.log.length; i++) {
    const entry = openEntry(raw.log[i]!);
    if (typeof entry === 'string') {
      if (entry === 'corrupt' || !tornTailPossible || i !== raw.log.length - 1) return corrupt;
      damage = 'torn-tail';
      break;
    }
    const previous = log.at(-1);
    if (previous !== undefined && entry.zxid <= previous.zxid) return corrupt;
    log.push(entry);
  }
  return { ...epochs, voter: raw.voter, snapshot, log, damage };
}
