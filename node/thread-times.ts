import { closeSync, openSync, readSync } from 'node:fs';
import type { ThreadTimes } from '../components/kernel/index.js';

/**
 * The calling thread's scheduler times, in ms, from the kernel's statistics
 * (/proc/thread-self/schedstat: ns on a CPU, ns runnable in a run queue, timeslices). Node 20
 * has no per-thread CPU clock, and process.cpuUsage() counts the GC's and libuv's threads too.
 * A slow turn's wall time splits into its time on the CPU, its time waiting for a core (on 2
 * cores shared by 3 nodes and a load generator, most of many a 20-40 ms turn), and the rest,
 * blocked (a page fault on an lmdb page not in memory, a lock, a synchronous system call).
 * Null where the file is not there (not Linux) or says nothing (schedstats off: zeros).
 */
export interface ThreadTimesReader {
  read(into: ThreadTimes): void;
  close(): void;
}

export function openThreadTimes(): ThreadTimesReader | null {
  let fd: number;
  try {
    // Opened by the thread it measures: thread-self is resolved at open.
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return null;
  }
  const buffer = Buffer.alloc(96);
  const read = (into: ThreadTimes): void => {
    // The kernel brings a running thread's runtime up to date at a tick (4 ms at HZ=250) or a
    // switch, not when its schedstat is read; getrusage (under cpuUsage) updates it first. Its
    // run-queue time is current: it was last added to when the thread got its core back.
    process.cpuUsage();
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    readSchedstat(buffer, length, into);
  };
  const opened: ThreadTimes = { onCpuMs: 0, waitingMs: 0 };
  read(opened);
  if (
    !Number.isFinite(opened.onCpuMs) ||
    opened.onCpuMs <= 0 ||
    !Number.isFinite(opened.waitingMs)
  ) {
    closeSync(fd);
    return null;
  }
  return { read, close: () => closeSync(fd) };
}

/**
 * Parses "<ns on a CPU> <ns waiting> <timeslices>" in place (twice a turn: no string or array
 * per read); NaN for a field that is missing or not all digits.
 */
export function readSchedstat(bytes: Uint8Array, length: number, into: ThreadTimes): void {
  let field = 0;
  let value = 0;
  let digits = 0;
  into.onCpuMs = NaN;
  into.waitingMs = NaN;
  for (let at = 0; at <= length && field < 2; at++) {
    const digit = at < length ? bytes[at]! - 0x30 : -1;
    if (digit >= 0 && digit <= 9) {
      value = value * 10 + digit;
      digits++;
      continue;
    }
    // A separator (or the end) closes the field; anything else spoils the read.
    const ended = at === length || bytes[at] === 0x20 || bytes[at] === 0x0a;
    if (!ended || digits === 0) return;
    if (field === 0) into.onCpuMs = value / 1e6;
    else into.waitingMs = value / 1e6;
    field++;
    value = 0;
    digits = 0;
  }
}
