import type { ChildProcess } from 'node:child_process';

/** Sends SIGTERM to every process and resolves when all have exited (also those already gone). */
export async function terminate(processes: Iterable<ChildProcess>): Promise<void> {
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
  await Promise.all(exits);
}
