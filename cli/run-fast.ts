import { fastInvocation, type FastInvocation } from './fast-path.js';
import { unexpectedFailure } from './failure.js';
import { del, get, put, runClientCommand } from './kv-commands.js';

/** Runs `args` (process.argv after the script) when it is a plain get, put or del; else false. */
export async function runIfPlain(args: readonly string[]): Promise<boolean> {
  const invocation = fastInvocation(args);
  if (invocation === null) return false;
  await runFast(invocation);
  return true;
}

/** Runs a get, put or del that cli/fast-path.ts recognized, as program.ts's actions would. */
async function runFast({ command, operands, flags }: FastInvocation): Promise<void> {
  const [key, value] = operands as [string, string];
  try {
    await runClientCommand(() => {
      switch (command) {
        case 'get':
          return get(key, { ...flags, stale: flags.stale === true });
        case 'put':
          return put(key, value, flags);
        case 'del':
          return del(key, flags);
      }
    });
  } catch (error) {
    unexpectedFailure(error);
  }
}
