import { RETAINED_LOG_BYTES } from '../components/limits.js';
import type { StoredImage } from '../components/storage/index.js';
import type { Zxid } from '../kv/zxid.js';
import { ReplicaLog } from './replica-log.js';

/**
 * The log as loaded, beside a state applied through `applied`; null when the two do not fit.
 * Without a marker the log was never compacted and starts the history. A log that ends at or
 * before the state adds nothing: the log restarts after the state (the caller writes a marker). A log that reaches past the
 * state must hold the state's zxid (or start right after a marker at it), else its tail is not
 * the state's continuation.
 */
export function historyAfterLoad(image: StoredImage, applied: Zxid): ReplicaLog | null {
  const base = image.snapshot?.zxid ?? 0;
  const first = image.log[0]?.zxid;
  const last = image.log.at(-1)?.zxid;
  if (first === undefined || last === undefined || last < applied) {
    return new ReplicaLog(applied, []);
  }
  if (first > applied) return base === applied ? new ReplicaLog(applied, image.log) : null;
  if (!image.log.some(({ zxid }) => zxid === applied) && applied !== 0) return null;
  return new ReplicaLog(image.snapshot === null ? 0 : null, image.log);
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
    if (keep < retainEntries && keptBytes <= RETAINED_LOG_BYTES) {
      keep++;
      return true;
    }
    through = at;
    return false;
  });
  for (const pin of pins) if (through !== undefined) through = Math.min(through, pin.zxid);
  return through === undefined || !history.contains(through) ? null : through;
}
