import assert from 'node:assert/strict';
import type { StorageWrite, StoredEntry, StoredImage } from '../components/storage/index.js';
import type { KvOutcome } from '../kv/kv-operation.js';
import { decodeOperation, isWrite } from '../kv/kv-operation.js';
import { formatZxid, type Zxid } from '../kv/zxid.js';
import { decodeLogEntry, type EntryOrigin } from './log-entry.js';
import { DurableWaiters } from './durable-waiters.js';
import { KvStateMachine } from './kv-state-machine.js';
import type { ReplicaInit } from './replica-config.js';
import { ReplicaLog } from './replica-log.js';

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
  private machineValue = new KvStateMachine();
  private nextSeq = 1;
  private waiters = new DurableWaiters();
  private spaceLowValue = false;
  /** Failed writes since this replica last held a synced history durably (for the back-off). */
  private failures = 0;
  private appliedSinceSnapshot = 0;
  /** Commits until the next snapshot: drawn anew each time (see nextSnapshotAfter). */
  private snapshotAfter: number;
  private snapshotPending = false;

  constructor(
    private readonly config: ReplicaInit,
    private readonly write: (write: StorageWrite) => void,
  ) {
    this.snapshotAfter = this.nextSnapshotAfter();
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
  get machine(): KvStateMachine {
    return this.machineValue;
  }
  /** The store's free space is below its reserve (SpaceLow): new data is refused with 507. */
  get spaceLow(): boolean {
    return this.spaceLowValue;
  }

  noteSpace(low: boolean): void {
    this.spaceLowValue = low;
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
    this.snapshotPending = false;
    this.appliedSinceSnapshot = 0;
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

  /** Takes the image the store loaded at start. Only the snapshot is known committed. */
  load(image: StoredImage): void {
    // ZooKeeper refuses to start with acceptedEpoch < currentEpoch: the files are inconsistent.
    if (!(image.acceptedEpoch >= image.currentEpoch))
      assert.fail(`acceptedEpoch ${image.acceptedEpoch} < currentEpoch ${image.currentEpoch}`);
    this.acceptedEpochValue = image.acceptedEpoch;
    this.currentEpochValue = image.currentEpoch;
    this.voterValue = image.voter;
    const snapshotZxid = image.snapshot?.zxid ?? 0;
    this.machineValue =
      image.snapshot === null ? new KvStateMachine() : KvStateMachine.decode(image.snapshot.state);
    assert.equal(this.machineValue.appliedZxid, snapshotZxid, 'snapshot zxid and state disagree');
    this.historyValue = historyAfterLoad(image);
    // The log tail waits for sync, which may truncate it (ZOOKEEPER-2845).
    this.committedValue = snapshotZxid;
    this.config.observer?.restored?.(this.config.self, snapshotZxid);
  }

  /** Requests a write; returns its number, which `onDurable` will reach once it is on disk. */
  persist(write: UnnumberedWrite): number {
    const seq = this.nextSeq++;
    this.write({ ...write, seq } as StorageWrite);
    return seq;
  }

  /** Every write up to `seq` is durable: the state changes that waited for it take effect. */
  onDurable(seq: number): void {
    this.waiters.release(seq);
  }

  /**
   * Persists acceptedEpoch; it is in effect from the returned write's durability on
   * (docs/zab-rules.md R2).
   */
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
   * Replaces the state by a snapshot the leader sent (SNAP), unless it is not one: returns why
   * then, having changed nothing (peer input is validated, never asserted).
   */
  installSnapshot(zxid: Zxid, state: Uint8Array): string | null {
    let machine: KvStateMachine;
    try {
      machine = KvStateMachine.decode(state);
    } catch (error) {
      return `snapshot does not decode: ${(error as Error).message}`;
    }
    if (machine.appliedZxid !== zxid) return 'snapshot zxid and state disagree';
    if (zxid < this.committedValue) return 'a snapshot older than what this replica applied';
    this.machineValue = machine;
    this.committedValue = zxid;
    this.config.observer?.restored?.(this.config.self, zxid);
    this.appliedSinceSnapshot = 0;
    this.historyValue.resetTo(zxid);
    this.persist({ kind: 'InstallSnapshot', snapshot: { zxid, state } });
    return null;
  }

  /**
   * Marks everything up to `zxid` committed and applies it in order (docs/zab-rules.md R10),
   * handing each
   * applied entry and its outcome to `onApplied`, which answers the client that asked.
   */
  commitThrough(zxid: Zxid, onApplied: (applied: AppliedEntry) => void): void {
    if (zxid <= this.committedValue) return;
    if (!(zxid <= this.historyValue.last)) assert.fail(`commit ${formatZxid(zxid)} beyond the log`);
    this.committedValue = zxid;
    for (const entry of this.historyValue.between(this.machineValue.appliedZxid, zxid)) {
      const { origin, operation: payload } = decodeLogEntry(entry.payload);
      const operation = decodeOperation(payload);
      if (!(operation !== null && isWrite(operation)))
        assert.fail(`log entry ${formatZxid(entry.zxid)} is not a write`);
      const outcome = this.machineValue.apply(entry.zxid, operation);
      this.config.observer?.applied?.(this.config.self, entry.zxid, entry.payload);
      onApplied({ entry, origin, outcome });
      this.appliedSinceSnapshot++;
    }
    assert.equal(this.machineValue.appliedZxid, zxid, 'applied state skipped a committed entry');
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

  /** Snapshot the applied (committed) state, then drop the log behind it but a DIFF margin. */
  private maybeSnapshot(): void {
    if (this.snapshotPending || this.appliedSinceSnapshot < this.snapshotAfter) return;
    const zxid = this.machineValue.appliedZxid;
    this.snapshotPending = true;
    this.appliedSinceSnapshot = 0;
    this.snapshotAfter = this.nextSnapshotAfter();
    const seq = this.persist({
      kind: 'SaveSnapshot',
      snapshot: { zxid, state: this.machineValue.encode() },
    });
    this.waiters.after(seq, () => {
      this.snapshotPending = false;
      const keep = this.historyValue.between(0, zxid);
      const through = keep[keep.length - 1 - this.config.retainEntries]?.zxid;
      if (through === undefined) return;
      this.historyValue.compactThrough(through);
      this.persist({ kind: 'Compact', throughZxid: through });
    });
  }

  checkInvariants(): void {
    assert(this.acceptedEpochValue >= this.currentEpochValue, 'acceptedEpoch < currentEpoch');
    assert(
      this.machineValue.appliedZxid === this.committedValue,
      'applied state lags the commit point',
    );
    assert(
      this.committedValue <= this.historyValue.last || this.historyValue.length === 0,
      'commit point beyond the log',
    );
  }
}

/**
 * The log as loaded, seen from the snapshot: without a snapshot the log was never compacted
 * and starts the history; entries at or below the snapshot are kept for DIFF only while the
 * log still reaches past the snapshot (a log that ends below it has nothing to add).
 */
function historyAfterLoad(image: StoredImage): ReplicaLog {
  if (image.snapshot === null) return new ReplicaLog(0, image.log);
  const snapshotZxid = image.snapshot.zxid;
  const first = image.log[0]?.zxid;
  const last = image.log.at(-1)?.zxid;
  if (first === undefined || last === undefined || last < snapshotZxid) {
    return new ReplicaLog(snapshotZxid, []);
  }
  if (first > snapshotZxid) return new ReplicaLog(snapshotZxid, image.log);
  return new ReplicaLog(null, image.log);
}
