// CPU time a process has used, its main thread apart from its other threads (V8's GC and
// compiler workers, libuv's pool: fs, fsync, lmdb's writes), from /proc. On a shared machine
// whose speed drifts by tens of per cent, CPU per operation moves far less than operations per
// second: it is what tells two builds apart (bench:ab).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessCpu {
  readonly mainMs: number;
  readonly otherMs: number;
}

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of one thread's stat line, in clock ticks (fields 14 and 15 of proc(5)). */
function threadTicks(statLine: string): number {
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** What `pid` has used so far, or null where /proc cannot tell (not Linux, process gone). */
export function processCpu(pid: number): ProcessCpu | null {
  try {
    let main = 0;
    let other = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const ticks = threadTicks(readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8'));
      if (Number(task) === pid) main += ticks;
      else other += ticks;
    }
    const ms = 1000 / clockTicks();
    return { mainMs: main * ms, otherMs: other * ms };
  } catch {
    return null;
  }
}

/** The CPU the processes used between two readings, summed; null if any reading is missing. */
export function cpuUsedBetween(
  before: readonly (ProcessCpu | null)[],
  after: readonly (ProcessCpu | null)[],
): ProcessCpu | null {
  let mainMs = 0;
  let otherMs = 0;
  for (let i = 0; i < before.length; i++) {
    const [b, a] = [before[i], after[i]];
    if (b == null || a == null) return null;
    mainMs += a.mainMs - b.mainMs;
    otherMs += a.otherMs - b.otherMs;
  }
  return { mainMs, otherMs };
}
