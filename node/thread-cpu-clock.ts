import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The calling thread's time on a CPU, in ms, from the kernel's scheduler statistics
 * (/proc/thread-self/schedstat, first field: ns run). Node 20 has no per-thread CPU clock, and
 * process.cpuUsage() counts the GC's and libuv's threads too. A slow turn's wall time less its
 * time on the CPU is what it waited for a core: on 2 cores shared by 3 nodes and a load
 * generator, that is most of many a 20-40 ms turn. Null where the file is not there (not Linux).
 */
export interface ThreadCpuClock {
  nowMs(): number;
  close(): void;
}

export function openThreadCpuClock(): ThreadCpuClock | null {
  let fd: number;
  try {
    // Opened by the thread it measures: thread-self is resolved at open.
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return null;
  }
  const buffer = Buffer.alloc(96);
  return {
    nowMs(): number {
      const length = readSync(fd, buffer, 0, buffer.length, 0);
      return Number(buffer.toString('latin1', 0, length).split(' ')[0]) / 1e6;
    },
    close: () => closeSync(fd),
  };
}
