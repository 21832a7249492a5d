import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The calling thread's time on a CPU, in ms, from the kernel's scheduler statistics
 * (/proc/thread-self/schedstat, first field: ns run). Node 20 has no per-thread CPU clock, and
 * process.cpuUsage() counts the GC's and libuv's threads too. A slow turn's wall time less its
 * time on the CPU is what it waited for a core: on 2 cores shared by 3 nodes and a load
 * generator, that is most of many a 20-40 ms turn. Null where the file is not there (not Linux)
 * or says nothing (schedstats off: zeros).
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
  const nowMs = (): number => {
    // The kernel brings a running thread's runtime up to date at a tick (4 ms at HZ=250) or a
    // switch, not when its schedstat is read; getrusage (under cpuUsage) updates it first.
    process.cpuUsage();
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    return Number(buffer.toString('latin1', 0, length).split(' ')[0]) / 1e6;
  };
  const first = nowMs();
  if (!Number.isFinite(first) || first <= 0) {
    closeSync(fd);
    return null;
  }
  return { nowMs, close: () => closeSync(fd) };
}
