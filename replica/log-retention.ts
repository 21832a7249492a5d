import { RETAINED_LOG_BYTES } from '../components/limits.js';
import type { StoredEntry, StoredImage } from '../components/storage/index.js';
import type { Zxid } from '../kv/zxid.js';
import { ReplicaLog } from './replica-log.js';

/**
 * The log as loaded, beside a state applied through `applied`; null when the two do not fit.
 * Without a marker the log was never compacted and starts the history. A log that ends at or
 * before the state adds nothing: the log restarts after the state (the caller writes a marker).
 * A log that reaches past the state must hold the state's zxid (or start right after a marker
 * at it), else its tail is not the state's continuation.
 *
 * Memory keeps only what `compactionPoint` leaves behind `floor` (the DIFF margin) and all that
 * follows: the log on disk reaches back to the last checkpoint (up to 128 MiB, hundreds of
 * thousands of entries), and copying all of it into the history only to drop it held the event
 * loop for 0.1-0.7 s on every restart.
 */
export function historyAfterLoad(
  image: StoredImage,
  applied: Zxid,
  floor: Zxid,
  retainEntries: number,
): ReplicaLog | null {
  const base = image.snapshot?.zxid ?? 0;
  const log = image.log;
  const first = log[0]?.zxid;
  const last = log.at(-1)?.zxid;
  if (first === undefined || last === undefined || last < applied) {
    return new ReplicaLog(applied, []);
  }
  if (first > applied && base !== applied) return null;
  if (first <= applied && applied !== 0 && log[indexAtOrBefore(log, applied)]?.zxid !== applied) {
    return null;
  }
  // Walk back from `floor` over the entries kept; the one before them is the new base.
  let keep = 0;
  let keptBytes = 0;
  for (let i = indexAtOrBefore(log, floor); i >= 0; i--) {
    keptBytes += log[i]!.payload.byteLength;
    if (!retained(keep, keptBytes, retainEntries))
      return new ReplicaLog(log[i]!.zxid, log.slice(i + 1));
    keep++;
  }
  if (first > applied) return new ReplicaLog(applied, log);
  return new ReplicaLog(image.snapshot === null ? 0 : null, log);
}

/** The index of the last entry at or before `zxid` (-1 if none): the log is in zxid order. */
function indexAtOrBefore(log: readonly StoredEntry[], zxid: Zxid): number {
  let low = 0;
  let high = log.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (log[middle]!.zxid <= zxid) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/**
 * Whether an entry stays in memory behind a compaction point, with `keep` entries after it
 * kept already and `keptBytes` of payload counted with its own: a follower a little behind still
 * gets a DIFF, and the margin is bounded in entries and bytes.
 */
function retained(keep: number, keptBytes: number, retainEntries: number): boolean {
  return keep < retainEntries && keptBytes <= RETAINED_LOG_BYTES;
}

/**
 * How far the log may be compacted once the applied state is on disk through `zxid`: everything
 * behind it but the last `retainEntries` entries (and at most RETAINED_LOG_BYTES of them), so a
 * follower a little behind still gets a DIFF, and nothing a snapshot being streamed still needs
 * (`pins`). Null: nothing to compact.
 */
export function compactionPoint(
  history: ReplicaLog,
  zxid: Zxid,
  retainEntries: number,
  pins: Iterable<{ readonly zxid: Zxid }>,
): Zxid | null {
  // Walk back from `zxid` over the entries kept; the one before them is the compaction point.
  let keep = 0;
  let keptBytes = 0;
  let through: Zxid | undefined;
  history.forEachBackFrom(zxid, (at, payloadBytes) => {
    keptBytes += payloadBytes;
    if (retained(keep, keptBytes, retainEntries)) {
      keep++;
      return true;
    }
    through = at;
    return false;
  });
  for (const pin of pins) if (through !== undefined) through = Math.min(through, pin.zxid);
  return through === undefined || !history.contains(through) ? null : through;
}
