// What the disk under a data directory wrote during a phase (/proc/diskstats), and how long the
// nodes' WAL flushes took meanwhile: on one machine the three nodes share that disk, and
// lmdb's page flushes slow every WAL fsync behind them (BENCHMARKS.md, Scale).
import { readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Reading } from './node-sampler.js';

/** A block device's write counters since boot. */
export interface DiskCounters {
  readonly writeIos: number;
  readonly writeBytes: number;
}

export interface DiskWrites {
  readonly megabytesPerSec: number;
  readonly iosPerSec: number;
}

/** The kernel counts sectors of 512 bytes in /proc/diskstats, whatever the device's. */
const SECTOR_BYTES = 512;
const FSYNC_SUM = 'zabkv_wal_fsync_duration_seconds_sum';
const FSYNC_COUNT = 'zabkv_wal_fsync_duration_seconds_count';

/** Linux's dev_t split (glibc's gnu_dev_major/minor), for `stat().dev`. */
export function deviceNumbers(dev: number): { major: number; minor: number } {
  const high = Math.floor(dev / 2 ** 32);
  const low = dev % 2 ** 32;
  return {
    major: ((low >>> 8) & 0xfff) | ((high & 0xfffff000) >>> 0),
    minor: ((low & 0xff) | ((low >>> 12) & 0xfff00) | ((high & 0xfff) << 20)) >>> 0,
  };
}

/**
 * The write counters of device `major:minor` in a /proc/diskstats text (fields: major minor
 * name, reads completed, merged, sectors, ms, writes completed, merged, sectors, ms, ...).
 */
export function parseDiskStats(text: string, major: number, minor: number): DiskCounters | null {
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || Number(fields[0]) !== major || Number(fields[1]) !== minor) continue;
    return { writeIos: Number(fields[7]), writeBytes: Number(fields[9]) * SECTOR_BYTES };
  }
  return null;
}

/** The counters of the device `path` lives on; null off Linux or on a device without them. */
export function diskCountersOf(path: string): DiskCounters | null {
  try {
    const { major, minor } = deviceNumbers(statSync(path).dev);
    return parseDiskStats(readFileSync('/proc/diskstats', 'utf8'), major, minor);
  } catch {
    return null;
  }
}

export function diskWritesBetween(
  before: DiskCounters | null,
  after: DiskCounters | null,
  seconds: number,
): DiskWrites | null {
  if (before === null || after === null || seconds <= 0) return null;
  return {
    megabytesPerSec: (after.writeBytes - before.writeBytes) / 1e6 / seconds,
    iosPerSec: (after.writeIos - before.writeIos) / seconds,
  };
}

/** The disk under `path` from its construction on: `writes()` is what it wrote since, per second. */
export class DiskWatch {
  private readonly started = performance.now();
  private readonly before: DiskCounters | null;

  constructor(private readonly path: string) {
    this.before = diskCountersOf(path);
  }

  writes(): DiskWrites | null {
    const seconds = (performance.now() - this.started) / 1000;
    return diskWritesBetween(this.before, diskCountersOf(this.path), seconds);
  }
}

/** Each node's WAL flush time and count so far (null: the node did not answer). */
export type FsyncTotals = ({ readonly seconds: number; readonly count: number } | null)[];

export function walFsyncIn(reading: Reading): FsyncTotals {
  return reading.map((samples) => {
    const seconds = samples?.get(FSYNC_SUM);
    const count = samples?.get(FSYNC_COUNT);
    return seconds === undefined || count === undefined ? null : { seconds, count };
  });
}

/**
 * The mean WAL flush, in ms, over the flushes between two readings of the nodes that answered
 * both (a restarted node counts from zero again and is left out). Null if none flushed.
 */
export function meanFsyncMs(before: FsyncTotals, after: FsyncTotals): number | null {
  let seconds = 0;
  let count = 0;
  before.forEach((b, i) => {
    const a = after[i];
    if (b === null || a === null || a === undefined || a.count < b.count) return;
    seconds += a.seconds - b.seconds;
    count += a.count - b.count;
  });
  return count === 0 ? null : (1000 * seconds) / count;
}
