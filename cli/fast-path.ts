import { WRITE_OUT, endpoints, endpointsOf, type WriteOut } from './flags.js';
import type { ConnectionFlags } from './kv-commands.js';

// `zabkv get`, `put` and `del` without commander (issue 16: a call under 150 ms, of which Node
// itself takes ~110). Only the plain forms of a valid invocation are taken here: anything else
// (a flag given twice or as --flag=value, -h, an unknown flag, a value that does not parse,
// the wrong number of arguments) returns null and goes to the commander program (program.ts),
// which says what is wrong. The flags and their defaults mirror program.ts's definitions of
// these commands; test/cli/fast-path.test.ts holds the two to the same answers.

/** The flags of one command: name (long, and short if any) → option name and whether it takes a value. */
type FlagTable = Readonly<Record<string, { readonly name: string; readonly takesValue: boolean }>>;

const CONNECTION: FlagTable = {
  '--endpoints': { name: 'endpoints', takesValue: true },
  '--url': { name: 'url', takesValue: true },
  '-w': { name: 'writeOut', takesValue: true },
  '--write-out': { name: 'writeOut', takesValue: true },
  '--token': { name: 'token', takesValue: true },
  '--cacert': { name: 'cacert', takesValue: true },
  '--cert': { name: 'cert', takesValue: true },
  '--key': { name: 'key', takesValue: true },
};

const COMMANDS = {
  get: { operands: 1, flags: { ...CONNECTION, '--stale': { name: 'stale', takesValue: false } } },
  put: {
    operands: 2,
    flags: {
      ...CONNECTION,
      '--if-match': { name: 'ifMatch', takesValue: true },
      '--if-absent': { name: 'ifAbsent', takesValue: false },
    },
  },
  del: {
    operands: 1,
    flags: { ...CONNECTION, '--if-match': { name: 'ifMatch', takesValue: true } },
  },
} as const satisfies Record<string, { operands: number; flags: FlagTable }>;

export type FastCommand = keyof typeof COMMANDS;

/** A get, put or del whose flags are all valid, ready to run. */
export interface FastInvocation {
  readonly command: FastCommand;
  /** The key, and for put the value. */
  readonly operands: readonly string[];
  readonly flags: ConnectionFlags & { stale?: boolean; ifMatch?: string; ifAbsent?: boolean };
}

const isCommand = (name: string | undefined): name is FastCommand =>
  name !== undefined && Object.hasOwn(COMMANDS, name);

/** The invocation when `args` (process.argv after the script) is a plain, valid get, put or del. */
export function fastInvocation(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): FastInvocation | null {
  const [command, ...rest] = args;
  if (!isCommand(command)) return null;
  const { operands: wanted, flags: table } = COMMANDS[command];
  const operands: string[] = [];
  const given = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    // `-` alone is an operand (put's value from standard input), as in commander.
    if (arg.length < 2 || !arg.startsWith('-')) {
      operands.push(arg);
      continue;
    }
    const flag: { name: string; takesValue: boolean } | undefined = (table as FlagTable)[arg];
    if (flag === undefined || given.has(flag.name)) return null;
    if (!flag.takesValue) {
      given.set(flag.name, true);
      continue;
    }
    const value = rest[++i];
    if (value === undefined || value.startsWith('-')) return null;
    given.set(flag.name, value);
  }
  if (operands.length !== wanted) return null;
  const text = (name: string): string | undefined => {
    const value = given.get(name);
    return typeof value === 'string' ? value : undefined;
  };
  const writeOut = text('writeOut') ?? 'simple';
  if (!(WRITE_OUT as readonly string[]).includes(writeOut)) return null;
  let list: string[];
  try {
    const flag = text('endpoints') ?? text('url');
    list = endpointsOf(flag === undefined ? undefined : endpoints(flag), env);
  } catch {
    return null;
  }
  const optional = (name: string) => {
    const value = given.get(name);
    return value === undefined ? {} : { [name]: value };
  };
  return {
    command,
    operands,
    flags: {
      endpoints: list,
      writeOut: writeOut as WriteOut,
      ...optional('token'),
      ...optional('cacert'),
      ...optional('cert'),
      ...optional('key'),
      ...optional('stale'),
      ...optional('ifMatch'),
      ...optional('ifAbsent'),
    },
  };
}
