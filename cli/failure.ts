// How the zabkv command ends when it cannot do what was asked (cli.ts, program.ts).

/** One line, exit 1: the command was understood but could not be carried out. */
export function failure(message: string): never {
  console.error(`error: ${message}`);
  process.exit(1);
}

/** An error no command expected: one line and exit 1, never a stack trace unless asked. */
export function unexpectedFailure(error: unknown): never {
  if (process.env['ZABKV_DEBUG'] !== undefined) console.error(error);
  return failure((error as Error).message);
}
