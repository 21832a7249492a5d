import type { SeededRandom } from '../components/random/seeded-random.js';
import type { KvOutcome, KvTxn, KvWrite } from '../kv/kv-operation.js';
import type { Zxid } from '../kv/zxid.js';
import { PiecesWritten } from './pieces-written.js';
import { decodePiece, encodePiece, pieceBytes } from './snapshot-pieces.js';
import type { SnapshotReader, StateEntry, StateInstall, StateStore } from './state-store.js';
import { StateStoreCore } from './state-store-core.js';
import { compareKeys, digestOf, entryBytes, type Versioned } from './write-rules.js';

/** Released applies of one `release` call: each key's content after them (undefined: absent). */
interface CommittedBatch {
  readonly zxid: Zxid;
  readonly changes: ReadonlyMap<string, Versioned | undefined>;
}

/**
 * What a simulated node's state store keeps across crashes, with lmdb's crash semantics: a
 * flushed state survives anything; batches committed after it survive a crash as a prefix (lmdb
 * commits whole transactions in order), of a length drawn from the seed.
 */
export class MemoryStateDisk {
  private base: { entries: Map<string, Versioned>; zxid: Zxid } = { entries: new Map(), zxid: 0 };
  private committed: CommittedBatch[] = [];

  constructor(private readonly random: SeededRandom) {}

  /** A process starting on this disk: what the last crash left. */
  recover(): { entries: Map<string, Versioned>; zxid: Zxid; durable: Zxid } {
    this.committed = this.committed.slice(0, this.random.int(0, this.committed.length));
    const entries = new Map(this.base.entries);
    for (const batch of this.committed) applyBatch(entries, batch);
    return {
      entries,
      zxid: this.committed.at(-1)?.zxid ?? this.base.zxid,
      durable: this.base.zxid,
    };
  }

  /** The disk was wiped (with the node's log): nothing is left. */
  wipe(): void {
    this.base = { entries: new Map(), zxid: 0 };
    this.committed = [];
  }

  commit(batch: CommittedBatch): void {
    this.committed.push(batch);
  }

  /** Everything committed is flushed; returns the zxid it reaches. */
  flush(): Zxid {
    for (const batch of this.committed) applyBatch(this.base.entries, batch);
    this.base.zxid = this.committed.at(-1)?.zxid ?? this.base.zxid;
    this.committed = [];
    return this.base.zxid;
  }

  /** A whole new state, flushed (a finished SNAP install). */
  replace(entries: Map<string, Versioned>, zxid: Zxid): void {
    this.base = { entries: new Map(entries), zxid };
    this.committed = [];
  }

  /** The committed state (what an lmdb read transaction sees), sorted by key. */
  committedEntries(): StateEntry[] {
    const entries = new Map(this.base.entries);
    for (const batch of this.committed) applyBatch(entries, batch);
    return sortedEntries(entries);
  }

  get committedZxid(): Zxid {
    return this.committed.at(-1)?.zxid ?? this.base.zxid;
  }
}

/**
 * The state store of the simulator: a Map in memory over a MemoryStateDisk. Flushes and installs
 * complete at the next `poll` (a tick later), so the protocol meets the same waits as on lmdb.
 * Range reads and snapshots sort the keys: fine for the simulator's few hundred keys.
 */
export class MemoryStateStore extends StateStoreCore implements StateStore {
  private live: Map<string, Versioned>;
  private durable: Zxid;
  /** Applied, not released: each write's key and its content after it. */
  private unreleased: { zxid: Zxid; key: string; next: Versioned | undefined }[] = [];
  private lastUnreleased: Zxid;
  private flushAsked = false;
  /** The install being received, if any: its pieces count as written at the next poll. */
  private receiving: PiecesWritten | null = null;
  private installed: {
    entries: Map<string, Versioned>;
    zxid: Zxid;
    done: { installed: boolean };
  } | null = null;

  constructor(
    private readonly disk: MemoryStateDisk,
    /** The simulator varies it, so that runs meet checkpoints rarer than log trims. */
    readonly checkpointLogBytes = 0,
  ) {
    const recovered = disk.recover();
    super(recovered.zxid);
    this.live = recovered.entries;
    this.durable = recovered.durable;
    this.lastUnreleased = recovered.zxid;
    this.recount();
  }

  get durableZxid(): Zxid {
    return this.durable;
  }

  get snapshotZxid(): Zxid {
    return this.disk.committedZxid;
  }

  /** The simulated disk of the state never fails (SimDisk models full disks for the log). */
  readonly failure = null;

  protected read(key: string): Versioned | undefined {
    return this.live.get(key);
  }

  protected write(zxid: Zxid, key: string, written: Versioned | undefined): void {
    // A copy: the value is a view into the log's storage (ReplicaLog), a megabyte a chunk,
    // which a value held for as long as its key lives would keep.
    const next = written && { version: written.version, value: new Uint8Array(written.value) };
    if (next === undefined) this.live.delete(key);
    else this.live.set(key, next);
    this.unreleased.push({ zxid, key, next });
  }

  protected override noteApplied(zxid: Zxid): void {
    this.lastUnreleased = zxid;
  }

  apply(zxid: Zxid, write: KvWrite): KvOutcome {
    return this.applyWrite(zxid, write);
  }

  applyTxn(zxid: Zxid, txn: KvTxn): KvOutcome {
    return this.applyTransaction(zxid, txn);
  }

  range(from: string, to: string | null, limit: number): StateEntry[] {
    return sortedEntries(this.live)
      .filter(({ key }) => compareKeys(key, from) >= 0 && (to === null || compareKeys(key, to) < 0))
      .slice(0, limit);
  }

  release(zxid: Zxid): void {
    const through = Math.min(zxid, this.lastUnreleased);
    if (through <= this.disk.committedZxid) return;
    const changes = new Map<string, Versioned | undefined>();
    let taken = 0;
    while (taken < this.unreleased.length && this.unreleased[taken]!.zxid <= through) {
      const { key, next } = this.unreleased[taken++]!;
      changes.set(key, next);
    }
    this.unreleased.splice(0, taken);
    this.disk.commit({ zxid: through, changes });
  }

  revertUnreleased(): void {
    this.unreleased = [];
    const entries = new Map<string, Versioned>();
    for (const { key, version, value } of this.disk.committedEntries())
      entries.set(key, { version, value });
    this.live = entries;
    this.resetApplied(this.disk.committedZxid);
    this.lastUnreleased = this.disk.committedZxid;
    this.recount();
  }

  checkpoint(): Zxid {
    this.flushAsked = true;
    return this.disk.committedZxid;
  }

  poll(): void {
    this.receiving?.publish();
    if (this.installed !== null) {
      const { entries, zxid, done } = this.installed;
      this.installed = null;
      done.installed = true;
      this.disk.replace(entries, zxid);
      this.live = new Map(entries);
      this.unreleased = [];
      this.resetApplied(zxid);
      this.lastUnreleased = zxid;
      this.durable = zxid;
      this.recount();
    }
    if (this.flushAsked) {
      this.flushAsked = false;
      this.durable = this.disk.flush();
    }
  }

  openSnapshot(): SnapshotReader {
    const entries = this.disk.committedEntries();
    const zxid = this.disk.committedZxid;
    let at = 0;
    return {
      zxid,
      next(maxBytes: number): Uint8Array | null {
        if (at >= entries.length && at > 0) return null;
        const piece: StateEntry[] = [];
        let bytes = 0;
        while (
          at < entries.length &&
          (piece.length === 0 || bytes + pieceBytes(entries[at]!) <= maxBytes)
        ) {
          bytes += pieceBytes(entries[at]!);
          piece.push(entries[at++]!);
        }
        if (piece.length === 0) at = 1; // an empty state is one empty piece
        return encodePiece(piece);
      },
      close(): void {},
    };
  }

  beginInstall(zxid: Zxid): StateInstall {
    const entries = new Map<string, Versioned>();
    let lastKey: string | null = null;
    let done = false;
    const status = { installed: false };
    const written = new PiecesWritten();
    this.receiving = written;
    return {
      zxid,
      get installed() {
        return status.installed;
      },
      failed: false,
      get piecesWritten() {
        return written.seen;
      },
      add: (piece) => {
        if (done) return 'snapshot piece after the last';
        const decoded = decodePiece(piece, zxid, lastKey);
        if (typeof decoded === 'string') return decoded;
        for (const { key, version, value } of decoded) entries.set(key, { version, value });
        lastKey = decoded.at(-1)?.key ?? lastKey;
        // Written at once, seen at the next poll, as a disk store's writes are.
        written.report(written.reported + 1);
        return null;
      },
      finish: () => {
        done = true;
        this.installed = { entries, zxid, done: status };
      },
      abort: () => {
        done = true;
      },
    };
  }

  digest(): string {
    return digestOf(sortedEntries(this.live));
  }

  private recount(): void {
    let bytes = 0;
    for (const [key, { value }] of this.live) bytes += entryBytes(key, value);
    this.setCounts(bytes, this.live.size);
  }
}

function applyBatch(entries: Map<string, Versioned>, batch: CommittedBatch): void {
  for (const [key, next] of batch.changes) {
    if (next === undefined) entries.delete(key);
    else entries.set(key, next);
  }
}

function sortedEntries(entries: ReadonlyMap<string, Versioned>): StateEntry[] {
  return [...entries]
    .map(([key, { version, value }]) => ({ key, version, value }))
    .sort((a, b) => compareKeys(a.key, b.key));
}
