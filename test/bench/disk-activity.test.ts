import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DiskWatch,
  deviceNumbers,
  diskCountersOf,
  diskWritesBetween,
  meanFsyncMs,
  parseDiskStats,
  walFsyncIn,
} from '../../bench/scale/disk-activity.js';

const STATS = [
  ' 253       0 vda 9146 2204 746942 3305 1733541 1207305 153398136 2104380 0 795216 2117702',
  ' 253       1 vda1 8000 2000 700000 3000 1700000 1200000 150000000 2100000 0 790000 2110000',
  '   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0',
].join('\n');

describe('disk activity during a benchmark phase', () => {
  it("reads a device's completed writes and sectors written (512 bytes each)", () => {
    expect(parseDiskStats(STATS, 253, 0)).toEqual({
      writeIos: 1_733_541,
      writeBytes: 153_398_136 * 512,
    });
    expect(parseDiskStats(STATS, 253, 1)?.writeIos).toBe(1_700_000);
    expect(parseDiskStats(STATS, 8, 0)).toBeNull();
  });

  it('splits a dev_t as glibc does, large numbers included', () => {
    expect(deviceNumbers(253 * 256 + 1)).toEqual({ major: 253, minor: 1 });
    // major 259, minor 300: minor's high bits sit above the major's low 12 bits.
    const dev = ((300 & 0xff) | ((259 & 0xfff) << 8) | ((300 & ~0xff) << 12)) >>> 0;
    expect(deviceNumbers(dev)).toEqual({ major: 259, minor: 300 });
  });

  it('finds the counters of the device a directory lives on, where the kernel has them', () => {
    expect(diskCountersOf('/no/such/directory')).toBeNull();
    // An overlay or tmpfs has an anonymous device (major 0) with no line in /proc/diskstats; a
    // real disk holding this checkout has written to it since boot.
    if (deviceNumbers(statSync(process.cwd()).dev).major === 0) return;
    expect(diskCountersOf(process.cwd())?.writeIos).toBeGreaterThan(0);
  });

  it('turns two readings into rates', () => {
    const before = { writeIos: 1_000, writeBytes: 10e6 };
    const after = { writeIos: 21_000, writeBytes: 210e6 };
    expect(diskWritesBetween(before, after, 10)).toEqual({ megabytesPerSec: 20, iosPerSec: 2_000 });
    expect(diskWritesBetween(null, after, 10)).toBeNull();
  });

  it("averages the WAL flushes of the nodes that answered both times, not a restarted node's", () => {
    const before = [{ seconds: 1, count: 1_000 }, { seconds: 2, count: 1_000 }, null];
    const after = [
      { seconds: 2, count: 2_000 }, // 1 s over 1,000 flushes
      { seconds: 0.5, count: 100 }, // restarted: counts from zero again
      { seconds: 9, count: 9 },
    ];
    expect(meanFsyncMs(before, after)).toBeCloseTo(1);
    expect(meanFsyncMs([null], [null])).toBeNull();
  });

  it('reads the WAL flush totals out of one scrape of each node', () => {
    const reading = [
      new Map([
        ['zabkv_wal_fsync_duration_seconds_sum', 1.5],
        ['zabkv_wal_fsync_duration_seconds_count', 300],
      ]),
      new Map([['zabkv_leader_changes_seen_total', 2]]),
      null,
    ];
    expect(walFsyncIn(reading)).toEqual([{ seconds: 1.5, count: 300 }, null, null]);
  });

  it('watches no disk where the kernel has no counters for the path', () => {
    expect(new DiskWatch('/no/such/directory').writes()).toBeNull();
  });
});
