import { readFileSync } from 'node:fs';
import { KvError, unquote } from '../client/kv-errors.js';
import { oneShot, type OneShotOptions } from '../client/one-shot.js';
import type { WriteOut } from './flags.js';

// get, put and del: one request each over node:http (client/one-shot.ts), nothing else loaded.

/** The flags every client command takes (cli.ts). */
export interface ConnectionFlags {
  endpoints: string[];
  token?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  writeOut: WriteOut;
}

/** A problem with what the user gave (a file, a flag pair): one line, exit 2. */
export class UsageError extends Error {}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(
      `${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
}

/** The request options of --endpoints, --token, --cacert, --cert, --key (and ZABKV_TOKEN, ZABKV_CACERT). */
export function connectionOf(
  flags: Omit<ConnectionFlags, 'writeOut'>,
  env: NodeJS.ProcessEnv = process.env,
): OneShotOptions {
  const token = flags.token ?? env['ZABKV_TOKEN'];
  const cacert = flags.cacert ?? env['ZABKV_CACERT'];
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new UsageError('--cert and --key go together');
  }
  return {
    endpoints: flags.endpoints,
    timeoutMs: 5_000,
    ...(token === undefined || token === '' ? {} : { token }),
    ...(cacert === undefined || cacert === '' ? {} : { ca: readPem(cacert, '--cacert') }),
    ...(flags.cert === undefined ? {} : { cert: readPem(flags.cert, '--cert') }),
    ...(flags.key === undefined ? {} : { key: readPem(flags.key, '--key') }),
  };
}

const keyPath = (key: string) => `/kv/${encodeURIComponent(key)}`;

function conditionHeaders(ifMatch: string | undefined, ifAbsent: boolean): Record<string, string> {
  if (ifMatch !== undefined && ifAbsent)
    throw new UsageError('--if-match and --if-absent exclude each other');
  if (ifAbsent) return { 'if-none-match': '*' };
  if (ifMatch === undefined) return {};
  return { 'if-match': ifMatch === '*' ? '*' : `"${unquote(ifMatch)}"` };
}

/** A value printed as text when it is UTF-8, else as base64 (json and table output). */
function valueFields(value: Buffer): { value: string } | { valueBase64: string } {
  const text = value.toString('utf8');
  return Buffer.from(text, 'utf8').equals(value)
    ? { value: text }
    : { valueBase64: value.toString('base64') };
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  return rows.map(line).join('\n');
}

export async function get(
  key: string,
  flags: ConnectionFlags & { stale?: boolean },
): Promise<void> {
  const answer = await oneShot(
    connectionOf(flags),
    'GET',
    `${keyPath(key)}${flags.stale ? '?consistency=stale' : ''}`,
  );
  const version = unquote(answer.headers['etag']);
  switch (flags.writeOut) {
    case 'simple':
      process.stdout.write(answer.body);
      process.stdout.write('\n');
      console.error(`version ${version}`);
      return;
    case 'json':
      console.log(JSON.stringify({ key, version, ...valueFields(answer.body) }));
      return;
    case 'table': {
      const fields = valueFields(answer.body);
      const shown = 'value' in fields ? fields.value : `base64:${fields.valueBase64}`;
      console.log(
        table([
          ['KEY', 'VERSION', 'VALUE'],
          [key, version, shown],
        ]),
      );
      return;
    }
  }
}

/** The value of `put`: the argument, or standard input when it is `-`. */
async function valueOf(value: string): Promise<Buffer> {
  if (value !== '-') return Buffer.from(value);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function put(
  key: string,
  value: string,
  flags: ConnectionFlags & { ifMatch?: string; ifAbsent?: boolean },
): Promise<void> {
  const headers = conditionHeaders(flags.ifMatch, flags.ifAbsent === true);
  const connection = connectionOf(flags);
  const answer = await oneShot(connection, 'PUT', keyPath(key), headers, await valueOf(value));
  const version = String((JSON.parse(answer.body.toString()) as { version: string }).version);
  printWrite(flags.writeOut, { key, version }, version);
}

export async function del(
  key: string,
  flags: ConnectionFlags & { ifMatch?: string },
): Promise<void> {
  await oneShot(
    connectionOf(flags),
    'DELETE',
    keyPath(key),
    conditionHeaders(flags.ifMatch, false),
  );
  printWrite(flags.writeOut, { key, deleted: true }, null);
}

function printWrite(
  writeOut: WriteOut,
  fields: Record<string, string | boolean>,
  simple: string | null,
): void {
  if (writeOut === 'json') console.log(JSON.stringify(fields));
  else if (writeOut === 'table') {
    const names = Object.keys(fields);
    console.log(table([names.map((n) => n.toUpperCase()), names.map((n) => String(fields[n]))]));
  } else if (simple !== null) console.log(simple);
}

/**
 * Runs a client command: a KvError (404, 412, no endpoint answering…) is one line and exit 1,
 * a UsageError one line and exit 2.
 */
export async function runClientCommand(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      process.exitCode = 2;
    } else if (error instanceof KvError) {
      console.error(
        `${error.status === 0 ? '' : `${error.status} `}${error.code}: ${error.message}`,
      );
      process.exitCode = 1;
    } else throw error;
  }
}

/** `zabkv where <key>`: the group that holds a key (GET /cluster?key=), and its hash tag. */
export async function where(key: string, flags: ConnectionFlags): Promise<void> {
  const answer = await oneShot(
    connectionOf(flags),
    'GET',
    `/cluster?key=${encodeURIComponent(key)}`,
  );
  const placement = JSON.parse(answer.body.toString()) as {
    group: number;
    tag: string | null;
    hash: number;
    tableVersion: number;
  };
  const tag = placement.tag === null ? '(none: the whole key)' : JSON.stringify(placement.tag);
  switch (flags.writeOut) {
    case 'simple':
      console.log(placement.group);
      console.error(
        `hash tag ${tag}, hash ${placement.hash}, table version ${placement.tableVersion}`,
      );
      return;
    case 'json':
      console.log(JSON.stringify({ key, ...placement }));
      return;
    case 'table':
      console.log(
        table([
          ['KEY', 'GROUP', 'HASH TAG', 'HASH'],
          [key, String(placement.group), tag, String(placement.hash)],
        ]),
      );
      return;
  }
}

/** One result of `POST /txn` (README, "Transactions in one group"). */
type TxnResultItem =
  | { put: { key: string; version: string } }
  | { delete: { key: string; deleted: boolean } }
  | { get: { key: string; version: string; value?: string; valueBase64?: string } };

/**
 * `zabkv txn [file]`: the JSON body of `POST /txn` from a file, or standard input when there is
 * none or it is `-`. Prints SUCCESS or FAILURE (which branch ran, as etcdctl txn), then a line
 * per result; exit 0 either way, since both branches are answers.
 */
export async function txn(file: string | undefined, flags: ConnectionFlags): Promise<void> {
  let body: Buffer;
  try {
    body = file === undefined || file === '-' ? await valueOf('-') : readFileSync(file);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const answer = await oneShot(connectionOf(flags), 'POST', '/txn', {}, body);
  const parsed = JSON.parse(answer.body.toString()) as {
    succeeded: boolean;
    version: string;
    results: TxnResultItem[];
  };
  if (flags.writeOut === 'json') {
    console.log(JSON.stringify(parsed));
    return;
  }
  const rows = parsed.results.map((r): string[] => {
    if ('put' in r) return ['put', r.put.key, r.put.version, ''];
    if ('delete' in r) return ['delete', r.delete.key, '', r.delete.deleted ? 'deleted' : 'absent'];
    const shown =
      r.get.value ?? (r.get.valueBase64 === undefined ? '' : `base64:${r.get.valueBase64}`);
    return ['get', r.get.key, r.get.version, shown];
  });
  console.log(`${parsed.succeeded ? 'SUCCESS' : 'FAILURE'} at version ${parsed.version}`);
  if (rows.length > 0) console.log(table([['OP', 'KEY', 'VERSION', 'VALUE'], ...rows]));
}
