import { statfs } from 'node:fs/promises';

/** The reserve when none is given: room for a burst of writes, a snapshot and the logs. */
export const DEFAULT_MIN_FREE_BYTES = 64 * 2 ** 20;
/**
 * How often free space is checked when not told: a statfs call, a few microseconds. The log's
 * own writes are subtracted as they go, but not the applied state's (lmdb, holding blocks ahead
 * of its transactions on the same disk): at 250 ms a fast node took the disk from above its
 * reserve to full between two checks (disk-full process test, 200 KB writes).
 */
export const DEFAULT_SPACE_CHECK_MS = 50;

/** Free bytes for an unprivileged writer of the file system holding `path`. */
export async function statfsFreeBytes(path: string): Promise<number> {
  const stats = await statfs(path);
  return Number(stats.bavail) * Number(stats.bsize);
}

export interface SpaceMonitorOptions {
  readonly path: string;
  readonly minFreeBytes: number;
  readonly intervalMs: number;
  readonly freeBytes: (path: string) => Promise<number>;
  /** Room needed on top of the reserve now (the next snapshot needs a copy of the last one). */
  readonly extraBytes: () => number;
  /** The first reading, then every crossing of the reserve, or of twice it (`roomy`). */
  readonly report: (low: boolean, roomy: boolean, freeBytes: number) => void;
  readonly warn: (error: unknown) => void;
}

/**
 * Watches a store's free space from its I/O side, never from protocol code: a statfs every
 * `intervalMs` (and at once after a failed write), reported only when it crosses the
 * reserve. Between readings the store tells it what it wrote, so a burst of writes crosses
 * the reserve as soon as it happens, not at the next reading. Leaving "low" needs a little
 * more than the reserve (1/16 of it), so a disk that hovers at the line does not flap. It also
 * says whether the disk is "roomy", twice the reserve free (with the same margin): room enough
 * to take over the writes of a leader whose disk is low. Replicas of a group hold the same data,
 * so when every disk fills alike the followers sit just above the reserve, not roomy: handing
 * over to them would only move the 507s, through an election's 503s and 504s.
 */
export class SpaceMonitor {
  private timer: NodeJS.Timeout | null = null;
  private low: boolean | null = null;
  private roomy: boolean | null = null;
  private checking = false;
  private warned = false;
  private stopped = false;
  /** Free bytes: the last reading less what was written since. */
  private free: number | null = null;
  /** Bytes written so far, to discount what a reading under way could not see. */
  private written = 0;

  constructor(private readonly options: SpaceMonitorOptions) {}

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The store just took `bytes` more of the disk. */
  noteWritten(bytes: number): void {
    this.written += bytes;
    if (this.free === null || this.stopped) return;
    this.free -= bytes;
    const reserve = this.reserve();
    if (
      (this.low === false && this.free < reserve) ||
      (this.roomy === true && this.free < 2 * reserve)
    ) {
      this.low = this.low === true || this.free < reserve;
      this.roomy = false;
      this.options.report(this.low, false, this.free);
    }
  }

  private reserve(): number {
    return this.options.minFreeBytes + this.options.extraBytes();
  }

  /** Checks now (one check at a time; a check asked for meanwhile is the running one). */
  check(): void {
    if (this.checking || this.stopped) return;
    this.checking = true;
    const { path, freeBytes } = this.options;
    const writtenBefore = this.written;
    freeBytes(path).then(
      (reading) => {
        this.checking = false;
        if (this.stopped) return;
        this.free = reading - (this.written - writtenBefore);
        const reserve = this.reserve();
        const margin = reserve / 16;
        const low = this.low === true ? this.free < reserve + margin : this.free < reserve;
        const roomy =
          this.roomy === true ? this.free >= 2 * reserve : this.free >= 2 * reserve + margin;
        if (low === this.low && roomy === this.roomy) return;
        this.low = low;
        this.roomy = roomy;
        this.options.report(low, roomy, this.free);
      },
      (error: unknown) => {
        this.checking = false;
        if (this.warned) return;
        this.warned = true; // once: a statfs that fails keeps failing
        this.options.warn(error);
      },
    );
  }
}
