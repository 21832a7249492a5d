import type { ChildProcess } from 'node:child_process';

/**
 * Sends SIGTERM to every process and resolves when all have exited (also those already gone);
 * with `killAfterMs`, a process still there by then gets SIGKILL (a JVM stuck in GC).
 */
export async function terminate(
  processes: Iterable<ChildProcess>,
  killAfterMs?: number,
): Promise<void> {
  const children = [...processes];
  const exits = children.map(
    (child) =>
      new Promise<void>((resolve) => {
        // A process killed by a signal has a null exitCode and a signalCode instead.
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      }),
  );
  for (const child of children) child.kill('SIGTERM');
  const kill =
    killAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          for (const child of children) {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          }
        }, killAfterMs);
  try {
    await Promise.all(exits);
  } finally {
    clearTimeout(kill);
  }
}

/** Children that must not outlive this process, whatever way it ends. */
const owned = new Set<ChildProcess>();
let killingOnExit = false;

/**
 * Kills `child` (SIGKILL) if it is still running when this process exits, even through an
 * uncaught exception or process.exit(), which skip every `finally`: a benchmark that dies must
 * not leave servers holding its ports and cores. A signal's default action skips 'exit' too,
 * so a script that owns children turns SIGINT and SIGTERM into an exit (exitOnSignals).
 */
export function killOnExit(child: ChildProcess): ChildProcess {
  // Once per process: registered again each time the set emptied, the listeners piled up (a
  // bench:scale run starts clusters a dozen times: MaxListenersExceededWarning).
  if (!killingOnExit) process.once('exit', killOwned);
  killingOnExit = true;
  owned.add(child);
  child.once('exit', () => owned.delete(child));
  return child;
}

function killOwned(): void {
  for (const child of owned) child.kill('SIGKILL');
  owned.clear();
}

/** SIGINT and SIGTERM end the process through process.exit, so that killOnExit applies. */
export function exitOnSignals(): void {
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}
