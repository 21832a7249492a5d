import { statSync } from 'node:fs';
import { join } from 'node:path';
import { FallocateHelper, type FallocateResult } from './fallocate-helper.js';

/** A fallocate that has not answered by then counts as refused (see `allocate`). */
const FALLOCATE_TIMEOUT_MS = 30_000;
const PAGE_BYTES = 4096;
/** B-tree pages a changed key may copy (leaf, branches, overflow head). */
const PAGES_PER_CHANGE = 4;
/** lmdb's own pages a transaction may add beside its changes' (freelist, meta, new branches). */
export const GROWTH_MARGIN_BYTES = 2 ** 20;
/** Held beyond what one transaction needs, so that most never wait for the disk. */
const RESERVE_STEP_BYTES = 4 * 2 ** 20;
/**
 * fallocate's messages (strerror) for a file system, kernel or file that cannot hold blocks
 * ahead at all: EOPNOTSUPP, ENOSYS, ENODEV (not a regular file), ESPIPE (a pipe).
 */
const NOT_SUPPORTED = /not supported|function not implemented|no such device|illegal seek/i;
/** sh's exit status for a command it cannot find (126: found, not executable). */
const COMMAND_MISSING = [126, 127];
/** The helper's shell could not be started at all (FallocateHelper's `gone` reason). */
const HELPER_MISSING = /^spawn .*\b(ENOENT|EACCES)\b/;

/** How far writing one key with a value of `valueBytes` may grow lmdb's file. */
export function changeGrowth(valueBytes: number): number {
  return (PAGES_PER_CHANGE + Math.ceil(valueBytes / PAGE_BYTES)) * PAGE_BYTES;
}

/**
 * Disk blocks held past the end of lmdb's data file, so that a transaction which grows the file
 * writes into blocks the file has already, and a disk that fills meanwhile (another process, a
 * burst of log writes) cannot fail it. lmdb-js does not survive a write that fails with ENOSPC:
 * the message its write path formats overruns a 100-byte buffer when the write is large
 * (mdb.c, mdb_page_flush: "Attempting to write page at position ..."), and the process aborts
 * ("corrupted size vs. prev_size", seen in test/process/disk-full.test.ts with 200 KB values).
 * A check of free space before each transaction cannot close that window; held blocks do.
 */
export interface GrowthReserve {
  /** Bytes the file can grow by into blocks it holds already (Infinity: not kept here). */
  available(): number;
  /**
   * Holds at least `bytes` past the file's end, or failing that at least `needed` (what the
   * caller cannot do without, `bytes` by default); resolves false if the disk has no room.
   */
  ensure(bytes: number, needed?: number): Promise<boolean>;
  /** Lets go of whatever keeps the reserve (a helper process). */
  close(): void;
}

/** Runs fallocate requests: FallocateHelper (tests answer them by hand). */
export interface FallocateRunner {
  run(path: string, offset: number, length: number): Promise<FallocateResult>;
  close(): void;
}

/** What one fallocate came to (see `fallocate`). */
type Allocation = 'held' | 'refused' | 'hung' | 'unsupported';

/**
 * `fallocate --keep-size` past the end of `file` (Node has no fallocate of its own), run by a
 * helper process started with the reserve (see FallocateHelper): the file's size and contents
 * do not change, so this may run while lmdb writes. Where the file system or the system cannot
 * do it (no util-linux, no shell, EOPNOTSUPP), `onUnsupported` is told once and the reserve says
 * Infinity from then on: the free-space check before each transaction still runs. Any other
 * failure (no space, a quota, EIO, a helper that died) refuses this request only.
 */
export class FallocatedReserve implements GrowthReserve {
  /** The end of the blocks held, as an offset in the file. */
  private heldEnd = 0;
  private unsupported = false;
  private under: Promise<boolean> | null = null;

  constructor(
    private readonly file: string,
    private readonly onUnsupported: (reason: string) => void,
    private readonly helper: FallocateRunner = new FallocateHelper(FALLOCATE_TIMEOUT_MS),
  ) {}

  available(): number {
    return this.unsupported ? Infinity : this.heldEnd - fileSize(this.file);
  }

  ensure(bytes: number, needed = bytes): Promise<boolean> {
    // One fallocate at a time; a caller that needed more than it got asks again.
    this.under ??= this.allocate(bytes, Math.min(needed, bytes)).finally(() => (this.under = null));
    return this.under;
  }

  close(): void {
    this.helper.close();
  }

  private async allocate(asked: number, needed: number): Promise<boolean> {
    const start = fileSize(this.file);
    // A file that grows fast (a SNAP install, commits while a snapshot pins old pages) would
    // otherwise ask every few MiB: hold a sixteenth of the file ahead at least.
    const ahead = Math.max(asked, Math.ceil(start / 16));
    let outcome = await this.fallocate(start, ahead);
    // What is held beyond the need only spares later fallocates: a disk without room for it
    // may still have room for the transaction, which would otherwise fail, and again after
    // every reload, while the disk could take it.
    if (outcome === 'refused' && needed < ahead) outcome = await this.fallocate(start, needed);
    // A disk that hangs refuses too: the store fails and the replica retries later, where
    // waiting on would hold every later transaction (and its memory) behind it.
    return outcome === 'held' || outcome === 'unsupported';
  }

  private async fallocate(start: number, bytes: number): Promise<Allocation> {
    let result = await this.helper.run(this.file, start, bytes);
    // A helper killed under it is started again once; one that cannot start (no `sh`) is not.
    if (result.kind === 'gone') result = await this.helper.run(this.file, start, bytes);
    switch (result.kind) {
      case 'ran':
        if (result.status === 0) {
          this.heldEnd = Math.max(this.heldEnd, start + bytes);
          return 'held';
        }
        return COMMAND_MISSING.includes(result.status) || NOT_SUPPORTED.test(result.message)
          ? this.unsupportedBecause(result.message)
          : 'refused';
      case 'timed-out':
        return 'hung';
      case 'gone':
        return HELPER_MISSING.test(result.why) ? this.unsupportedBecause(result.why) : 'refused';
    }
  }

  private unsupportedBecause(reason: string): Allocation {
    if (!this.unsupported) {
      this.unsupported = true;
      this.onUnsupported(reason);
    }
    return 'unsupported';
  }
}

/**
 * The reserve of the lmdb environment in `directory` (its data.mdb), asked for a step at once,
 * so the first transaction after a start does not wait for the disk.
 */
export function reserveAhead(
  directory: string,
  onUnsupported: (reason: string) => void,
): GrowthReserve {
  const reserve = new FallocatedReserve(join(directory, 'data.mdb'), onUnsupported);
  void reserve.ensure(RESERVE_STEP_BYTES);
  return reserve;
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Lets an lmdb transaction start only once the reserve covers how far it may grow the file;
 * one that must wait asks for the blocks and is told when the disk answered.
 */
export class GrowthGate {
  private holding = false;

  constructor(private readonly reserve: GrowthReserve) {}

  /**
   * Whether a transaction that may grow the file by `growth` bytes can start now (and then asks
   * for the next blocks ahead, without waiting). If not, asks for them once, however often it is
   * asked meanwhile, and calls `retry` with whether the disk gave them.
   */
  admit(growth: number, retry: (held: boolean) => void): boolean {
    if (this.reserve.available() >= growth) {
      this.topUp(growth);
      return true;
    }
    if (!this.holding) {
      this.holding = true;
      void this.reserve.ensure(growth + RESERVE_STEP_BYTES, growth).then((held) => {
        this.holding = false;
        retry(held);
      });
    }
    return false;
  }

  /**
   * Bytes the file can still grow by, given the disk's `free` bytes (statfs, which counts the
   * blocks held as used): those and the held ones, or `free` alone where nothing is held.
   */
  room(free: number): number {
    const held = this.reserve.available();
    return Number.isFinite(held) ? free + held : free;
  }

  /** Asks for more blocks, without waiting, once fewer than a step beyond `growth` are held. */
  topUp(growth: number): void {
    if (this.reserve.available() < growth + RESERVE_STEP_BYTES / 2) {
      void this.reserve.ensure(growth + RESERVE_STEP_BYTES);
    }
  }
}
