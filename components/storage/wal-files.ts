import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import { join } from 'node:path';
import { MAX_FRAME_BYTES } from '../limits.js';
import { replaceFileSync } from './atomic-file.js';
import { HEADER_BYTES, openRecord, sealRecord } from './stored-record.js';
import type { StoredEntry, StoredImage, StoredSnapshot } from './storage-port.js';

// The files of one WalStorage directory:
//   log-id          a random id of this store, written once before anything else
//   epochs          [acceptedEpoch, currentEpoch, voter, base], replaced atomically
//   snapshot        [zxid, state, base], replaced atomically
//   wal-<n>.log     segments of the log, numbered from 0, preallocated with zeros, written
//                   in place (O_DSYNC), so a write changes no file metadata
// A segment holds sealed records (stored-record.ts): first a header ['S', logId, n,
// previousZxid] (whose store, which segment, and the log's last zxid when it began), then
// entries [zxid, payload], truncations ['T', afterZxid] and compactions ['C', throughZxid];
// the log is the replay of the segments from `base` on, in order. Compaction also deletes
// whole segments it covers, oldest first, so a first segment above the base began after a
// zxid that some compaction covered. The header makes a segment of another store (another
// group, another node), a renumbered one and a missing first one detectable.
// `base` retires every older segment at once, atomically: InstallSnapshot moves it in the
// snapshot file, discarding a damaged log moves it in the epochs file. The higher one counts,
// and a snapshot whose base is below the epochs file's belongs to a discarded history.

export const LOG_ID_FILE = 'log-id';
/**
 * A batch's log records go out in writes of about this many bytes, each sealed in its own turn:
 * a batch of hundreds of MiB (a follower's backlog after a SNAP sync, 10 KB values) sealed and
 * joined at once held the event loop for seconds, long enough for its leader to close the link.
 */
export const LOG_WRITE_BYTES = 4 * 2 ** 20;
/**
 * One write at most: LOG_WRITE_BYTES and the record that took it past them (an entry arrived in
 * a frame), and a segment's header. A torn write never reaches further than this past the
 * point where it was cut.
 */
const MAX_LOG_WRITE_BYTES = LOG_WRITE_BYTES + MAX_FRAME_BYTES + 2 ** 20;
export const EPOCHS_FILE = 'epochs';
export const SNAPSHOT_FILE = 'snapshot';
const SEGMENT = /^wal-([0-9a-f]{16})\.log$/;

export function segmentFile(n: number): string {
  return `wal-${n.toString(16).padStart(16, '0')}.log`;
}

export interface Epochs {
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  readonly voter: boolean;
  readonly base: number;
}

export function sealEpochs(epochs: Epochs): Uint8Array {
  return sealRecord([epochs.acceptedEpoch, epochs.currentEpoch, epochs.voter, epochs.base]);
}

export function sealWalSnapshot(snapshot: StoredSnapshot, base: number): Uint8Array {
  return sealRecord([snapshot.zxid, snapshot.state, base]);
}

/** What a segment's first record says about it. */
export interface SegmentHeader {
  readonly logId: string;
  readonly n: number;
  /** The log's last zxid when the segment began (-1 for none). */
  readonly previousZxid: number;
}

export function sealWalSegmentHeader(header: SegmentHeader): Uint8Array {
  return sealRecord(['S', header.logId, header.n, header.previousZxid]);
}

/** Gives a new store its id; written before its epochs file, which marks a store as made. */
export function writeNewLogId(directory: string): string {
  const logId = randomBytes(8).toString('hex');
  replaceFileSync(join(directory, LOG_ID_FILE), sealRecord([logId]));
  return logId;
}

/** This store's id, or null if the file is missing or damaged (its segments are unvouched). */
/**
 * A store made before segments had headers: no log-id file (never written, not lost) and a
 * first segment whose first record opens whole but is a log entry, not a header. Refusing it
 * beats treating it as damage: on every node of a cluster at once, that would leave no voter.
 */
function writtenByEarlierVersion(directory: string, segments: readonly number[]): boolean {
  const first = segments[0];
  if (first === undefined || existsSync(join(directory, LOG_ID_FILE))) return false;
  const bytes = readBytes(join(directory, segmentFile(first)));
  if (bytes.length < HEADER_BYTES) return false;
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
  if (length === 0 || HEADER_BYTES + length > bytes.length) return false;
  const opened = openRecord(bytes.subarray(0, HEADER_BYTES + length));
  return opened.ok && Array.isArray(opened.body) && opened.body[0] !== 'S';
}

export function readLogId(directory: string): string | null {
  const path = join(directory, LOG_ID_FILE);
  if (!existsSync(path)) return null;
  const opened = openRecord(readBytes(path));
  const body = opened.ok ? opened.body : null;
  return Array.isArray(body) && body.length === 1 && typeof body[0] === 'string' ? body[0] : null;
}

export function sealWalEntry(entry: StoredEntry): Uint8Array {
  return sealRecord([entry.zxid, entry.payload]);
}

export function sealWalTruncate(afterZxid: number): Uint8Array {
  return sealRecord(['T', afterZxid]);
}

export function sealWalCompact(throughZxid: number): Uint8Array {
  return sealRecord(['C', throughZxid]);
}

/** A view that is a plain Uint8Array, so the payloads read out of it are too (not Buffers). */
function readBytes(path: string): Uint8Array {
  return plainBytes(readFileSync(path));
}

function plainBytes(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The epochs file; a damaged one is not guessed around: this node's promises are in it. */
export function readEpochs(directory: string): Epochs {
  const path = join(directory, EPOCHS_FILE);
  const opened = openRecord(readBytes(path));
  const body = opened.ok ? opened.body : null;
  if (Array.isArray(body) && body.length === 4) {
    const [acceptedEpoch, currentEpoch, voter, base] = body as unknown[];
    if (
      isCount(acceptedEpoch) &&
      isCount(currentEpoch) &&
      typeof voter === 'boolean' &&
      isCount(base)
    )
      return { acceptedEpoch, currentEpoch, voter, base };
  }
  throw new Error(`${path} is damaged: refusing to start without this node's epochs`);
}

type SnapshotRead = { snapshot: StoredSnapshot; base: number } | null | 'corrupt';

function readSnapshot(directory: string): SnapshotRead {
  const path = join(directory, SNAPSHOT_FILE);
  if (!existsSync(path)) return null;
  const opened = openRecord(readBytes(path));
  if (!opened.ok || !Array.isArray(opened.body) || opened.body.length !== 3) return 'corrupt';
  const [zxid, state, base] = opened.body as unknown[];
  if (!isCount(zxid) || !(state instanceof Uint8Array) || !isCount(base)) return 'corrupt';
  return { snapshot: { zxid, state }, base };
}

/** Segment numbers present in the directory, ascending. */
export function listSegments(directory: string): number[] {
  const numbers: number[] = [];
  for (const name of readdirSync(directory)) {
    const match = SEGMENT.exec(name);
    if (match !== null) numbers.push(Number.parseInt(match[1]!, 16));
  }
  return numbers.sort((a, b) => a - b);
}

/** What a scan learned about one live segment. */
export interface SegmentState {
  readonly n: number;
  /** Bytes of whole, valid records: appends go on from here. */
  readonly validBytes: number;
  /** Bytes up to the last non-zero one: a torn tail between validBytes and here is zeroed. */
  readonly dirtyBytes: number;
  /** The file's length: zeros are preallocated up to here. */
  readonly fileBytes: number;
  /** Highest zxid appended in this segment (-1 for none): the segment may go once compacted. */
  readonly maxZxid: number;
}

export interface WalScan {
  readonly epochs: Epochs;
  /** The store's id, which every segment's header must carry (null: missing, so damage). */
  readonly logId: string | null;
  readonly image: StoredImage;
  /** The base in force: segments below it are leftovers of a retired history. */
  readonly base: number;
  /** Live segments, ascending (empty after damage: they are all to be discarded). */
  readonly segments: readonly SegmentState[];
  /** Segments below the base, and every segment of a damaged log: to be deleted. */
  readonly retired: readonly number[];
}

/**
 * Reads the directory into the image a node starts from. Only the very end of the last
 * segment may be torn (a write that never finished, so never acknowledged); anything else is
 * damage: a bad record in any segment (a torn one too, unless in the last), a segment without
 * its header, of another store or under another number, a gap between segments, a missing
 * first segment (it began after a zxid no compaction covered), an empty segment followed by
 * another, entries out of order. The image is then the empty non-voter that keeps its
 * epochs (see recover-image.ts for the reasons). A missing last segment cannot be told from
 * one never written, as in ZooKeeper and etcd: acknowledged writes it held are what the
 * quorum's other copies are for.
 */
export function scanWal(directory: string): WalScan {
  const steps = walScanSteps(directory);
  let input: Uint8Array | undefined;
  for (;;) {
    const step = steps.next(input);
    if (step.done) return step.value;
    input = step.value.kind === 'read' ? readBytes(step.value.path) : undefined;
  }
}

/**
 * `scanWal` for a live node: segments are read off the event loop and replayed in slices of
 * about `sliceMs`, the event loop free in between, so a node that recovers a long log still
 * answers its peers, timers and HTTP meanwhile. The small files are read before it returns:
 * a damaged epochs file, or a log of an earlier version, throws here and now.
 */
export function scanWalInSlices(directory: string, sliceMs: number): Promise<WalScan> {
  const steps = walScanSteps(directory);
  const first = steps.next();
  return (async () => {
    let step = first;
    let sliceStart = performance.now();
    while (!step.done) {
      let input: Uint8Array | undefined;
      if (step.value.kind === 'read') {
        input = plainBytes(await readFile(step.value.path));
        sliceStart = performance.now();
      } else if (performance.now() - sliceStart >= sliceMs) {
        await setImmediate();
        sliceStart = performance.now();
      }
      step = steps.next(input);
    }
    return step.value;
  })();
}

/** What a scan asks its driver for: a segment file's bytes, or a moment to yield. */
type ScanStep = { readonly kind: 'read'; readonly path: string } | { readonly kind: 'pause' };

/** Records replayed between two pauses (a few milliseconds of work). */
const RECORDS_PER_STEP = 256;

function* walScanSteps(directory: string): Generator<ScanStep, WalScan, Uint8Array | undefined> {
  const epochs = readEpochs(directory);
  const logId = readLogId(directory);
  const read = readSnapshot(directory);
  const all = listSegments(directory);
  const snapshotBase = read !== null && read !== 'corrupt' ? read.base : 0;
  const base = Math.max(epochs.base, snapshotBase);
  const damaged = (): WalScan => ({
    epochs,
    logId,
    image: {
      acceptedEpoch: epochs.acceptedEpoch,
      currentEpoch: epochs.currentEpoch,
      voter: false,
      snapshot: null,
      log: [],
      damage: 'corrupt',
    },
    base,
    segments: [],
    retired: all,
  });
  if (logId === null && writtenByEarlierVersion(directory, all)) {
    throw new Error(
      `the log in ${directory} was written by an earlier zabkv (segments without headers, no ` +
        `${LOG_ID_FILE} file), which this version does not read. Keep a copy, then start this ` +
        'node with its data directory moved away: it re-syncs from its group if the group runs ' +
        'this version; a whole cluster upgraded at once must be reloaded from empty directories.',
    );
  }
  if (read === 'corrupt' || logId === null) return damaged();
  // A snapshot from before a discarded history is not this node's any more.
  const snapshot = read !== null && read.base >= epochs.base ? read.snapshot : null;
  const live = all.filter((n) => n >= base);
  const log: StoredEntry[] = [];
  const segments: SegmentState[] = [];
  let damage: StoredImage['damage'] = 'none';
  let compactedThrough = -1;
  let firstPrevious = -1;
  for (let i = 0; i < live.length; i++) {
    const n = live[i]!;
    const last = i === live.length - 1;
    if (i > 0 && n !== live[i - 1]! + 1) return damaged();
    const bytes = yield { kind: 'read', path: join(directory, segmentFile(n)) };
    if (bytes === undefined) throw new Error('scan driver gave no bytes for a segment');
    const replayed = yield* replaySegment(bytes, log, { logId, n });
    if (replayed.end === 'corrupt') return damaged();
    if (replayed.end === 'torn') {
      if (!last) return damaged();
      damage = 'torn-tail';
    }
    // Only the segment being appended to may hold nothing yet (created, then a crash).
    if (replayed.header === null && !last) return damaged();
    if (i === 0 && n > base && replayed.header !== null) {
      firstPrevious = replayed.header.previousZxid;
    }
    compactedThrough = Math.max(compactedThrough, replayed.compactedThrough);
    segments.push({
      n,
      validBytes: replayed.validBytes,
      dirtyBytes: replayed.dirtyBytes,
      fileBytes: bytes.length,
      maxZxid: replayed.maxZxid,
    });
  }
  // Segments below the first live one went by compaction, which covered all they held.
  if (firstPrevious > compactedThrough) return damaged();
  return {
    epochs,
    logId,
    image: {
      acceptedEpoch: epochs.acceptedEpoch,
      currentEpoch: epochs.currentEpoch,
      voter: epochs.voter,
      snapshot,
      log,
      damage,
    },
    base,
    segments,
    retired: all.filter((n) => n < base),
  };
}

interface Replayed {
  readonly end: 'clean' | 'torn' | 'corrupt';
  readonly validBytes: number;
  /** Where the last non-zero byte ends: after a torn batch, garbage up to here is zeroed. */
  readonly dirtyBytes: number;
  readonly maxZxid: number;
  /** The segment's header, null if it holds no whole record. */
  readonly header: SegmentHeader | null;
  /** The highest compaction point it records (-1 for none). */
  readonly compactedThrough: number;
}

/**
 * Applies one segment's records to `log`. Segments are preallocated with zeros, so the log
 * ends at the first all-zero header. A batch is one write, issued only once the one before
 * it is durable, so everything from the first bad byte on belongs to the last batch, which
 * never finished and was never acknowledged: it is torn if the bad record is short, or has a
 * zeroed sector or is an all-zero header with no more bytes after it than one write holds; a
 * complete record with a wrong checksum is damage.
 */
function* replaySegment(
  bytes: Uint8Array,
  log: StoredEntry[],
  expected: { readonly logId: string; readonly n: number },
): Generator<ScanStep, Replayed, Uint8Array | undefined> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dirtyBytes = lastNonZero(bytes) + 1;
  let offset = 0;
  let maxZxid = -1;
  let header: SegmentHeader | null = null;
  let compactedThrough = -1;
  let records = 0;
  const stop = (end: Replayed['end']): Replayed => ({
    end,
    validBytes: offset,
    dirtyBytes,
    maxZxid,
    header,
    compactedThrough,
  });
  // Data further on than one write reaches was written by earlier writes, each durable before
  // the next began: what lies before it is damage, whatever it looks like (a zeroed sector, a
  // length that bit rot sent past the end).
  const tornOrCorrupt = (): Replayed =>
    stop(dirtyBytes - offset <= MAX_LOG_WRITE_BYTES ? 'torn' : 'corrupt');
  while (offset < dirtyBytes) {
    if (++records % RECORDS_PER_STEP === 0) yield { kind: 'pause' };
    if (bytes.length - offset < HEADER_BYTES) return tornOrCorrupt();
    const length = view.getUint32(offset);
    const crc = view.getUint32(offset + 4);
    if (length === 0 && crc === 0) return tornOrCorrupt(); // a zero header with data after it
    const end = HEADER_BYTES + length;
    if (offset + end > bytes.length) return tornOrCorrupt();
    const record = bytes.subarray(offset, offset + end);
    const opened = openRecord(record);
    if (!opened.ok) {
      // Its last bytes never reached the disk (a value may end in zeros: only a bad checksum
      // makes zeros at the end suspicious).
      if (offset + end > dirtyBytes || hasZeroSector(record, offset)) return tornOrCorrupt();
      return stop('corrupt');
    }
    const body = opened.body;
    if (offset === 0) {
      // A segment of another store, or renamed, is not this log's, whatever it holds.
      const read = openSegmentHeader(body);
      if (read === null || read.logId !== expected.logId || read.n !== expected.n) {
        return stop('corrupt');
      }
      header = read;
      offset += end;
      continue;
    }
    if (!Array.isArray(body) || body.length !== 2) return stop('corrupt');
    const [first, second] = body as unknown[];
    if (first === 'T' && isCount(second)) {
      while (log.length > 0 && log.at(-1)!.zxid > second) log.pop();
    } else if (first === 'C' && isCount(second)) {
      compactedThrough = Math.max(compactedThrough, second);
      let covered = 0;
      while (covered < log.length && log[covered]!.zxid <= second) covered++;
      log.splice(0, covered);
    } else if (isCount(first) && second instanceof Uint8Array) {
      const previous = log.at(-1);
      if (previous !== undefined && first <= previous.zxid) return stop('corrupt');
      log.push({ zxid: first, payload: second });
      maxZxid = Math.max(maxZxid, first);
    } else {
      return stop('corrupt');
    }
    offset += end;
  }
  return stop('clean');
}

function openSegmentHeader(body: unknown): SegmentHeader | null {
  if (!Array.isArray(body) || body.length !== 4) return null;
  const [tag, logId, n, previousZxid] = body as unknown[];
  if (tag !== 'S' || typeof logId !== 'string' || !isCount(n)) return null;
  if (!(previousZxid === -1 || isCount(previousZxid))) return null;
  return { logId, n, previousZxid };
}

function lastNonZero(bytes: Uint8Array): number {
  let at = bytes.length - 1;
  while (at >= 0 && bytes[at] === 0) at--;
  return at;
}

const SECTOR = 512;

/**
 * A bad record with its piece of some disk sector all zeros was cut short by a crash in the
 * middle of its write, which kept some of the write's sectors and not others (etcd's
 * torn-write rule, isTornEntry): the pieces at the record's two ends count too, so a record
 * that runs into a lost page is torn even when a later page of the same write survived. A
 * flipped bit in a record that was written is damage.
 */
function hasZeroSector(record: Uint8Array, fileOffset: number): boolean {
  let start = 0;
  while (start < record.length) {
    const end = Math.min(record.length, start + SECTOR - ((fileOffset + start) % SECTOR));
    if (record.subarray(start, end).every((byte) => byte === 0)) return true;
    start = end;
  }
  return false;
}
