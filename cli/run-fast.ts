import { fastInvocation, type FastInvocation } from './fast-path.js';
import { unexpectedFailure } from './failure.js';
import { del, get, put, runClientCommand } from './kv-commands.js';

/**
 * The zabkv command, `args` being process.argv after the script: a plain get, put or del here,
 * without commander; anything else through the commander program (program.ts).
 */
export async function runCli(args: readonly string[]): Promise<void> {
  const invocation = fastInvocation(args);
  if (invocation === null) await import('./program.js');
  else await runFast(invocation);
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
