import assert from 'node:assert/strict';
import { CHECKPOINT_LOG_BYTES } from '../components/limits.js';
import type { StorageWrite, StoredEntry, StoredImage } from '../components/storage/index.js';
import { decodeOperation, isWrite, type KvOutcome } from '../kv/kv-operation.js';
import { formatZxid, type Zxid } from '../kv/zxid.js';
import { decodeLogEntry, type EntryOrigin } from './log-entry.js';
import { applyLogged, type StateInstall, type StateStore } from '../state/state-store.js';
import { DurableWaiters } from './durable-waiters.js';
import type { ReplicaInit } from './replica-config.js';
import { compactionPoint, historyAfterLoad } from './log-retention.js';
import { ReplicaLog } from './replica-log.js';
import { StateWaiters } from './state-waiters.js';
import type { ChangeFeed } from './change-feed.js';

/**
 * The log's snapshot record is a marker: the applied state lives in the StateStore, and the
 * record says the log starts after its zxid (what the state on disk covers). zabkv 0.1 wrote
 * the whole state there; such a record is not empty.
 */
const LOG_BASE_MARKER = new Uint8Array(0);

/** A storage write before it is numbered. */
export type UnnumberedWrite = StorageWrite extends infer W
  ? W extends StorageWrite
    ? Omit<W, 'seq'>
    : never
  : never;

/** What others may look at: the simulator's invariants, tests. */
export type DurableView = Pick<
  DurableState,
  'acceptedEpoch' | 'currentEpoch' | 'voter' | 'committed' | 'history' | 'machine' | 'summary'
>;

/** An entry applied as committed, with what it produced, for whoever answers its client. */
export interface AppliedEntry {
  readonly entry: StoredEntry;
  readonly origin: EntryOrigin | null;
  readonly outcome: KvOutcome;
}

/**
 * What a replica keeps across crashes, and the only code that writes to its Storage port:
 * the two epochs, the voter flag, the log, the state machine and its snapshots. Every write
 * is numbered; `persist` returns the number, and the caller that must wait for it (a role
 * continuing the protocol) queues its continuation under that number in its own
 * DurableWaiters. The epochs change here only once their write is durable (docs/zab-rules.md
 * R2, R3).
 */
export class DurableState {
  private acceptedEpochValue = 0;
  private currentEpochValue = 0;
  private voterValue = false;
  private committedValue: Zxid = 0;
  private historyValue = new ReplicaLog(0, []);
  private nextSeq = 1;
  /** Every write up to this one is durable. */
  private durableSeq = 0;
  private waiters = new DurableWaiters();
  private stateWaiters = new StateWaiters();
  /** Log entries the leader streams a snapshot ahead of: compaction keeps what follows them. */
  private readonly pins = new Set<{ readonly zxid: Zxid }>();
  /** A snapshot received whole, until the store has switched to it. */
  private installing: StateInstall | null = null;
  /** `load` restarts an empty log after the state once the state is on disk through it. */
  private basePending = false;
  /** The zxid of the last log-base marker written (SaveSnapshot), to write none twice. */
  private markerZxid = 0;
  private spaceLowValue = false;
  private spaceRoomyValue = true;
  /** Failed writes since this replica last held a synced history durably (for the back-off). */
  private failures = 0;
  private appliedSinceSnapshot = 0;
  private appliedBytesSinceSnapshot = 0;
  /** Log bytes applied since the last checkpoint began (see checkpointLogBytes). */
  private appliedBytesSinceCheckpoint = 0;
  /** The share of the store's checkpointLogBytes before the next checkpoint (nextCheckpointShare). */
  private checkpointShare: number;
  /** Commits until the next snapshot: drawn anew each time (see nextSnapshotAfter). */
  private snapshotAfter: number;
  private snapshotPending = false;
  /** The last Compact written: the log on disk holds nothing at or behind it. */
  private diskCompactedThrough: Zxid = 0;

  constructor(
    private readonly config: ReplicaInit,
    private readonly write: (write: StorageWrite) => void,
    private readonly feed: ChangeFeed,
  ) {
    this.snapshotAfter = this.nextSnapshotAfter();
    this.checkpointShare = this.nextCheckpointShare();
    // What the state store holds on disk is committed: the log tail waits for Load and sync.
    this.committedValue = config.state.appliedZxid;
  }

  get acceptedEpoch(): number {
    return this.acceptedEpochValue;
  }
  get currentEpoch(): number {
    return this.currentEpochValue;
  }
  /** False for a node whose disk lost its history: its votes and ACKs count only once synced. */
  get voter(): boolean {
    return this.voterValue;
  }
  /** Everything up to here is known committed, and applied. */
  get committed(): Zxid {
    return this.committedValue;
  }
  get history(): ReplicaLog {
    return this.historyValue;
  }
  /** The applied state (in lmdb on a node, in memory in simulation). */
  get machine(): StateStore {
    return this.config.state;
  }
  /** The store's free space is below its reserve (SpaceLow): new data is refused with 507. */
  get spaceLow(): boolean {
    return this.spaceLowValue;
  }

  /** Twice the reserve is free: room to take over a low leader's writes. */
  get spaceRoomy(): boolean {
    return this.spaceRoomyValue;
  }

  noteSpace(low: boolean, roomy: boolean): void {
    this.spaceLowValue = low;
    this.spaceRoomyValue = roomy;
  }

  /**
   * A write failed and the store rolled back to its last durable write (WriteFailed): nothing
   * that waits for a write may run now, since none of those writes will ever be durable, and
   * what this replica holds in memory is ahead of its disk until it loads again. Returns the
   * ticks to wait before that Load: doubling with each failure in a row (a disk still full
   * fails the next sync too), up to 32.
   */
  writeFailed(): number {
    this.waiters = new DurableWaiters();
    this.stateWaiters = new StateWaiters();
    this.basePending = false;
    this.snapshotPending = false;
    this.appliedSinceSnapshot = 0;
    this.appliedBytesSinceSnapshot = 0;
    this.failures++;
    return Math.min(2 ** (this.failures - 1), 32);
  }

  /** For logs: where the epochs and the log stand. */
  summary(): Record<string, unknown> {
    return {
      acceptedEpoch: this.acceptedEpochValue,
      currentEpoch: this.currentEpochValue,
      voter: this.voterValue,
      committed: formatZxid(this.committedValue),
      last: formatZxid(this.historyValue.last),
    };
  }

  /**
   * Takes the image the store loaded at start (or after a failed write) beside the applied
   * state: the state is committed through its applied zxid; the log tail after it waits for
   * sync, which may truncate it (ZOOKEEPER-2845).
   */
  load(image: StoredImage): void {
    // ZooKeeper refuses to start with acceptedEpoch < currentEpoch: the files are inconsistent.
    if (!(image.acceptedEpoch >= image.currentEpoch))
      assert.fail(`acceptedEpoch ${image.acceptedEpoch} < currentEpoch ${image.currentEpoch}`);
    if (image.snapshot !== null && image.snapshot.state.length > 0) {
      assert.fail(
        'this data directory was written by zabkv 0.1, which kept the applied state in snapshot ' +
          "files; this version keeps it in lmdb and cannot read them. Wipe this node's data " +
          'directory and restart it: it re-syncs from its group (one node at a time).',
      );
    }
    const state = this.config.state;
    state.revertUnreleased();
    state.poll();
    // The state loaded is the installed one, or the install failed with the disk.
    if (this.installing?.installed === true || this.installing?.failed === true) {
      this.installing = null;
    }
    this.acceptedEpochValue = image.acceptedEpoch;
    this.currentEpochValue = image.currentEpoch;
    this.voterValue = image.voter;
    const applied = state.appliedZxid;
    const base = image.snapshot?.zxid ?? 0;
    this.markerZxid = base;
    // Memory keeps what trimMemory would (a role that pinned the log ended before any load).
    assert.equal(this.pins.size, 0, 'a load with the log pinned');
    const floor = Math.min(applied, state.snapshotZxid);
    const history =
      applied < base ? null : historyAfterLoad(image, applied, floor, this.config.retainEntries);
    if (history === null) {
      // The log starts after more than the state holds (its files were lost): what is missing
      // may have been acknowledged, so this node must sync before it counts (ZOOKEEPER-261).
      this.voterValue = false;
    }
    this.historyValue = history ?? new ReplicaLog(applied, []);
    this.basePending = false;
    if (this.historyValue.length === 0 && applied !== base) {
      // The log must continue right after the state: it restarts there (no gap on disk). The
      // marker waits for the state to be on disk through `applied` (a damaged log was discarded
      // beside applies not flushed yet): a crash must never leave a state below the marker,
      // a hole that would cost this node its vote. Nothing votes or syncs meanwhile.
      const restart = (): void => {
        this.basePending = false;
        this.persist({
          kind: 'InstallSnapshot',
          snapshot: { zxid: applied, state: LOG_BASE_MARKER },
        });
        this.markerZxid = applied;
      };
      if (state.durableZxid >= applied) restart();
      else {
        this.basePending = true;
        this.stateWaiters.after(state.checkpoint(), restart);
      }
    }
    this.committedValue = applied;
    this.feed.restored(applied);
  }

  /** Requests a write; returns its number, which `onDurable` will reach once it is on disk. */
  persist(write: UnnumberedWrite): number {
    const seq = this.nextSeq++;
    this.write({ ...write, seq } as StorageWrite);
    return seq;
  }

  /** Every write up to `seq` is durable: the state changes that waited for it take effect. */
  onDurable(seq: number): void {
    this.durableSeq = Math.max(this.durableSeq, seq);
    this.waiters.release(seq);
  }

  /**
   * A snapshot received whole is on its way to disk, or the log's restart point waits for the
   * state to be (load): no role may vote, sync or apply anything meanwhile.
   */
  get installPending(): boolean {
    return this.installing !== null || this.basePending;
  }

  /**
   * Takes in what the state store finished: flushes, and an installed snapshot, which becomes
   * the state (its zxid is returned then).
   */
  pollState(): Zxid | null {
    const state = this.config.state;
    state.poll();
    let installed: Zxid | null = null;
    if (this.installing?.installed === true) {
      installed = this.installing.zxid;
      this.installing = null;
      this.adoptInstalled(installed);
    }
    this.stateWaiters.release(state.durableZxid);
    return installed;
  }

  /** Keeps the log after `zxid` (a snapshot streamed to a follower) until the pin is dropped. */
  pinLog(zxid: Zxid): () => void {
    const pin = { zxid };
    this.pins.add(pin);
    return () => this.pins.delete(pin);
  }

  /** Persists acceptedEpoch, in effect once the returned write is durable (zab-rules.md R2). */
  acceptEpoch(epoch: number): number {
    if (!(epoch > this.acceptedEpochValue))
      assert.fail(`acceptedEpoch must grow: ${epoch} <= ${this.acceptedEpochValue}`);
    const seq = this.persist({ kind: 'SetAcceptedEpoch', epoch });
    this.waiters.after(seq, () => {
      this.acceptedEpochValue = Math.max(this.acceptedEpochValue, epoch);
    });
    return seq;
  }

  /**
   * Persists currentEpoch after every earlier write (docs/zab-rules.md R3); it also makes this
   * node a voter.
   */
  adoptEpoch(epoch: number): number {
    const seq = this.persist({ kind: 'SetCurrentEpoch', epoch });
    this.waiters.after(seq, () => {
      if (!(epoch <= this.acceptedEpochValue))
        assert.fail(`currentEpoch ${epoch} above acceptedEpoch`);
      this.currentEpochValue = Math.max(this.currentEpochValue, epoch);
      this.voterValue = true;
      this.failures = 0; // a synced history is durable: the disk takes writes again
    });
    return seq;
  }

  append(entries: readonly StoredEntry[]): number {
    this.historyValue.append(entries);
    return this.persist({ kind: 'Append', entries });
  }

  truncateAfter(zxid: Zxid): void {
    assert(zxid >= this.committedValue, 'truncating committed history');
    this.historyValue.truncateAfter(zxid);
    this.persist({ kind: 'Truncate', afterZxid: zxid });
  }

  /**
   * Starts taking a snapshot the leader streams (SNAP). It may be older than what was applied
   * here: the leader sends one only to a follower whose history diverged from the group's
   * (sync-plan.ts), and it replaces that history (follower.ts counts it).
   */
  beginInstall(zxid: Zxid): StateInstall {
    return this.config.state.beginInstall(zxid);
  }

  /** Every piece of `install` is in: the store switches to it once it is on disk (pollState). */
  finishInstall(install: StateInstall): void {
    assert(this.installing === null, 'two snapshot installs at once');
    this.installing = install;
    install.finish();
  }

  /**
   * The installed snapshot is the state, on disk: the log restarts after it. The state went to
   * disk first, so a crash in between leaves the old log beside a newer state, which `load`
   * restarts the same way.
   */
  private adoptInstalled(zxid: Zxid): void {
    assert.equal(this.config.state.appliedZxid, zxid, 'installed state and its zxid disagree');
    this.committedValue = zxid;
    this.feed.restored(zxid);
    this.appliedSinceSnapshot = 0;
    this.appliedBytesSinceSnapshot = 0;
    this.historyValue.resetTo(zxid);
    this.persist({ kind: 'InstallSnapshot', snapshot: { zxid, state: LOG_BASE_MARKER } });
    this.markerZxid = zxid;
  }

  /**
   * Marks everything up to `zxid` committed and applies it in order (docs/zab-rules.md R10),
   * handing each applied entry and its outcome to `onApplied`, which answers the client.
   */
  commitThrough(zxid: Zxid, onApplied: (applied: AppliedEntry) => void): void {
    if (zxid <= this.committedValue) return;
    if (!(zxid <= this.historyValue.last)) assert.fail(`commit ${formatZxid(zxid)} beyond the log`);
    this.committedValue = zxid;
    const state = this.config.state;
    for (const entry of this.historyValue.between(state.appliedZxid, zxid)) {
      const { origin, operation: payload } = decodeLogEntry(entry.payload);
      const operation = decodeOperation(payload);
      if (!(operation !== null && isWrite(operation)))
        assert.fail(`log entry ${formatZxid(entry.zxid)} is not a write`);
      const outcome = applyLogged(state, entry.zxid, operation);
      this.feed.applied(entry.zxid, entry.payload, operation.op === 'txn', state.lastChanges);
      onApplied({ entry, origin, outcome });
      this.appliedSinceSnapshot++;
      this.appliedBytesSinceSnapshot += entry.payload.byteLength;
      this.appliedBytesSinceCheckpoint += entry.payload.byteLength;
    }
    assert.equal(state.appliedZxid, zxid, 'applied state skipped a committed entry');
    this.feed.flush(zxid);
    // The state on disk never runs ahead of the log on disk: these applies reach it once every
    // write asked so far (their entries among them) is durable.
    const through = this.nextSeq - 1;
    if (through <= this.durableSeq) state.release(zxid);
    else this.waiters.after(through, () => state.release(zxid));
    this.maybeSnapshot();
  }

  /**
   * Between half and all of `snapshotEvery`, at random, as ZooKeeper's snapCount: replicas
   * apply the same commits at the same moment, and would otherwise all pause to encode their
   * snapshot at once, which every write in flight would then wait for.
   */
  private nextSnapshotAfter(): number {
    const every = this.config.snapshotEvery;
    return Math.ceil(every / 2) + this.config.random.int(0, Math.floor(every / 2));
  }

  /**
   * Between half and all of the store's checkpointLogBytes, at random, for the reason of
   * nextSnapshotAfter: replicas that copied their state at the same moment (a gigabyte each at
   * five million keys) held a shared disk's log flushes for over a second.
   */
  private nextCheckpointShare(): number {
    return 0.5 + this.config.random.int(0, 1_000) / 2_000;
  }

  /**
   * Every `snapshotEvery` commits (or CHECKPOINT_LOG_BYTES), the log in memory goes but for a
   * DIFF margin (and whatever a snapshot being streamed still needs). The log on disk goes at a
   * checkpoint, once the store's `checkpointLogBytes` were applied since the last: once the
   * applied state is durable through some zxid, a marker says the log may start after it, and
   * the log behind it is compacted.
   */
  private maybeSnapshot(): void {
    if (
      this.appliedSinceSnapshot < this.snapshotAfter &&
      this.appliedBytesSinceSnapshot < CHECKPOINT_LOG_BYTES
    )
      return;
    this.appliedSinceSnapshot = 0;
    this.appliedBytesSinceSnapshot = 0;
    this.snapshotAfter = this.nextSnapshotAfter();
    if (
      this.snapshotPending ||
      this.appliedBytesSinceCheckpoint < this.checkpointShare * this.config.state.checkpointLogBytes
    ) {
      this.trimMemory(this.committedValue);
      return;
    }
    this.snapshotPending = true;
    this.appliedBytesSinceCheckpoint = 0;
    this.checkpointShare = this.nextCheckpointShare();
    const zxid = this.config.state.checkpoint();
    this.stateWaiters.after(zxid, () => {
      if (zxid <= this.markerZxid) {
        this.snapshotPending = false;
        return;
      }
      this.markerZxid = zxid;
      const seq = this.persist({
        kind: 'SaveSnapshot',
        snapshot: { zxid, state: LOG_BASE_MARKER },
      });
      this.waiters.after(seq, () => {
        this.snapshotPending = false;
        this.compactBehind(zxid);
      });
    });
    this.pollState();
  }

  /**
   * Drops the log in memory behind `zxid` (applied), but for the DIFF margin and the pins, and
   * never past what the store holds: a SNAP sends the store's state, which lags what was applied
   * (by up to a commit interval on lmdb), and then the log after it. Trimmed past it, the log
   * would start after the snapshot: within an epoch the follower refuses the gap and asks again,
   * forever under load; across an epoch boundary (`follows` takes any first entry of a newer
   * epoch) it would skip the entries between.
   */
  private trimMemory(zxid: Zxid): void {
    const floor = Math.min(zxid, this.config.state.snapshotZxid);
    const through = compactionPoint(this.historyValue, floor, this.config.retainEntries, this.pins);
    if (through !== null) this.historyValue.compactThrough(through);
  }

  /**
   * The state is durable through `zxid`: the log on disk goes behind it, but for what memory
   * still holds (a restart then offers the same DIFF margin).
   */
  private compactBehind(zxid: Zxid): void {
    this.trimMemory(zxid);
    const first = this.historyValue.first;
    const through = first !== undefined && first <= zxid ? first - 1 : zxid;
    if (through <= this.diskCompactedThrough) return;
    this.diskCompactedThrough = through;
    this.persist({ kind: 'Compact', throughZxid: through });
  }

  checkInvariants(): void {
    assert(this.acceptedEpochValue >= this.currentEpochValue, 'acceptedEpoch < currentEpoch');
    assert(
      this.config.state.appliedZxid === this.committedValue,
      'applied state lags the commit point',
    );
    assert(
      this.committedValue <= this.historyValue.last || this.historyValue.length === 0,
      'commit point beyond the log',
    );
  }
}
