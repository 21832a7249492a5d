import assert from 'node:assert/strict';
import type { SeededRandom } from '../random/seeded-random.js';
import { recoverImage } from './recover-image.js';
import { HEADER_BYTES, sealEntry, sealSnapshot } from './stored-record.js';
import type { StorageWrite, StoredImage } from './storage-port.js';

/** A test hook called around each flush; it may crash the node (a failpoint). */
export type FlushHook = (moment: 'before' | 'after', writes: readonly StorageWrite[]) => void;

/**
 * A simulated disk that outlives the node using it. Writes wait in a volatile queue until a
 * flush makes them durable, all together (group commit). A crash keeps the durable state plus
 * some prefix of the volatile writes (a file system may have written them without a flush),
 * and may tear the last record it keeps: exactly what a real log file can look like after
 * power loss, and nothing a correct replica has acknowledged can be lost by it.
 */
export class SimDisk {
  private acceptedEpoch = 0;
  private currentEpoch = 0;
  private voter: boolean;
  private snapshot: Uint8Array | null = null;
  private snapshotZxid = 0;
  private log: Uint8Array[] = [];
  private zxids: number[] = [];
  private volatile: StorageWrite[] = [];
  /** Rotted since the last load: the next load will find the damage. */
  private rotten = false;
  private lowValue = false;
  flushHook: FlushHook | undefined;
  /**
   * The disk is full: every flush fails, its writes meeting a crash's fate (a prefix may have
   * landed, the last record maybe torn), until this is cleared.
   */
  full = false;
  /** Told when `low` changes: the simulated store's free-space check. */
  onSpaceChange: ((low: boolean) => void) | undefined;
  /** Counters for tests: how often each crash outcome happened. */
  readonly stats = { flushes: 0, crashes: 0, keptVolatile: 0, torn: 0, failedFlushes: 0 };

  /** `initialized`: a founding member's empty disk, allowed to vote (ZooKeeper's marker file). */
  constructor(
    private readonly random: SeededRandom,
    initialized: boolean,
    private readonly tearProbability = 0.3,
  ) {
    this.voter = initialized;
  }

  write(write: StorageWrite): void {
    this.volatile.push(write);
  }

  get pendingWrites(): number {
    return this.volatile.length;
  }

  /** Makes every volatile write durable; returns the sequence number of the last one. */
  flush(): number | undefined {
    const writes = this.volatile;
    if (writes.length === 0) return undefined;
    this.flushHook?.('before', writes);
    if (this.volatile !== writes) return undefined; // the hook crashed the node
    this.volatile = [];
    for (const write of writes) this.apply(write);
    this.stats.flushes++;
    this.flushHook?.('after', writes);
    return writes.at(-1)!.seq;
  }

  /** Free space is below the store's reserve (the store reports SpaceLow). */
  get low(): boolean {
    return this.lowValue;
  }

  set low(low: boolean) {
    if (low === this.lowValue) return;
    this.lowValue = low;
    this.onSpaceChange?.(low);
  }

  /**
   * A flush on a full disk: it fails, and what it was writing meets a crash's fate, as a
   * write that ran out of space halfway would leave it. Returns the last write's number.
   */
  failFlush(): number | undefined {
    const last = this.volatile.at(-1);
    if (last === undefined) return undefined;
    this.stats.failedFlushes++;
    this.settleVolatile();
    return last.seq;
  }

  /** Power loss: a random prefix of the volatile writes survives, its last record maybe torn. */
  crash(): void {
    this.stats.crashes++;
    this.settleVolatile();
  }

  private settleVolatile(): void {
    const kept = this.random.int(0, this.volatile.length);
    const survivors = this.volatile.slice(0, kept);
    this.volatile = [];
    this.stats.keptVolatile += kept;
    for (const write of survivors) this.apply(write);
    const last = survivors.at(-1);
    if (
      last?.kind === 'Append' &&
      last.entries.length > 0 &&
      this.random.chance(this.tearProbability)
    ) {
      const record = this.log.at(-1)!;
      this.log[this.log.length - 1] = record.subarray(0, this.random.int(0, record.length - 1));
      this.stats.torn++;
    }
  }

  /** The data directory is deleted: the node comes back empty and not initialized. */
  wipe(): void {
    this.volatile = [];
    this.acceptedEpoch = 0;
    this.currentEpoch = 0;
    this.voter = false;
    this.snapshot = null;
    this.snapshotZxid = 0;
    this.log = [];
    this.zxids = [];
  }

  /** Flips one bit of a durable log record, as bit rot would. False when there is none. */
  rot(): boolean {
    if (this.log.length === 0) return false;
    this.rotten = true;
    const index = this.random.int(0, this.log.length - 1);
    const record = Uint8Array.from(this.log[index]!);
    // The length header is left alone: a flipped length would look like a torn write, the
    // one damage a log cannot tell from a crash (real logs share this blind spot).
    const at = this.random.int(HEADER_BYTES, record.length - 1);
    record[at] = record[at]! ^ (1 << this.random.int(0, 7));
    this.log[index] = record;
    return true;
  }

  /** Reads the disk back and, like a real store's recovery, cuts off what it had to discard. */
  load(): StoredImage {
    assert.equal(this.volatile.length, 0, 'load with volatile writes pending');
    const image = recoverImage({
      acceptedEpoch: this.acceptedEpoch,
      currentEpoch: this.currentEpoch,
      voter: this.voter,
      snapshot: this.snapshot,
      log: this.log,
    });
    this.rotten = false;
    if (image.damage === 'torn-tail') {
      this.log.pop();
      this.zxids.pop();
    } else if (image.damage === 'corrupt') {
      this.voter = false;
      this.snapshot = null;
      this.snapshotZxid = 0;
      this.log = [];
      this.zxids = [];
    }
    return image;
  }

  /** The highest zxid that is durable in the log (for the "no ACK before durable" check). */
  get durableLastZxid(): number {
    return Math.max(this.zxids.at(-1) ?? 0, this.snapshotZxid);
  }

  /** Whether the durable state may vote (initialized, or synced since a wipe or damage). */
  get isVoter(): boolean {
    return this.voter && !this.rotten;
  }

  get durableEpochs(): { acceptedEpoch: number; currentEpoch: number } {
    return { acceptedEpoch: this.acceptedEpoch, currentEpoch: this.currentEpoch };
  }

  private apply(write: StorageWrite): void {
    switch (write.kind) {
      case 'Append':
        for (const entry of write.entries) {
          if (!(entry.zxid > (this.zxids.at(-1) ?? -1)))
            assert.fail(`append out of order: ${entry.zxid}`);
          this.log.push(sealEntry(entry));
          this.zxids.push(entry.zxid);
        }
        return;
      case 'Truncate': {
        let keep = this.zxids.length;
        while (keep > 0 && this.zxids[keep - 1]! > write.afterZxid) keep--;
        this.log.length = keep;
        this.zxids.length = keep;
        return;
      }
      case 'SetAcceptedEpoch':
        this.acceptedEpoch = write.epoch;
        return;
      case 'SetCurrentEpoch':
        this.currentEpoch = write.epoch;
        this.voter = true;
        return;
      case 'SaveSnapshot':
        this.snapshot = sealSnapshot(write.snapshot);
        this.snapshotZxid = write.snapshot.zxid;
        return;
      case 'InstallSnapshot':
        this.snapshot = sealSnapshot(write.snapshot);
        this.snapshotZxid = write.snapshot.zxid;
        this.log = [];
        this.zxids = [];
        return;
      case 'Compact': {
        let drop = 0;
        while (drop < this.zxids.length && this.zxids[drop]! <= write.throughZxid) drop++;
        this.log.splice(0, drop);
        this.zxids.splice(0, drop);
        return;
      }
    }
  }
}
