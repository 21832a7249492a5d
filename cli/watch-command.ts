import {
  CursorGone,
  ZabkvClient,
  type ListedMessage,
  type WatchMessage,
} from '../client/zabkv-client.js';
import { connectionOf, type ConnectionFlags } from './kv-commands.js';

export interface WatchFlags extends ConnectionFlags {
  readonly key?: string;
  readonly prefix?: string[];
  readonly from?: string;
  readonly progress?: number;
  /** First the keys as they are (`put` lines), then their changes. */
  readonly list?: boolean;
}

/** One line per change: `put <key> <version> <value>` (base64:… when not UTF-8), `delete <key> <version>`. */
function simpleLines(message: WatchMessage | ListedMessage): string[] {
  if (message.type === 'item') {
    const { key, version, value, valueBase64 } = message;
    return [`put ${key} ${version} ${value ?? `base64:${valueBase64 ?? ''}`}`];
  }
  if (message.type === 'reset') return ['reset (the listing starts over)'];
  if (message.type === 'progress' || message.type === 'synced') return [];
  return message.changes.map((change) => {
    const head = `${change.type} ${change.key} ${change.version}`;
    if (change.type === 'delete') return head;
    if (change.valueOmitted === true) return `${head} (over 64 KiB: not shown)`;
    return `${head} ${change.value ?? `base64:${change.valueBase64 ?? ''}`}`;
  });
}

/**
 * `zabkv watch <key> | --prefix <p>`: prints each change as it is applied, until interrupted,
 * moving to another endpoint by itself when one fails (ZabkvClient.watch). On Ctrl-C it says
 * how to resume exactly where it stopped (`--from <cursor>`).
 */
export async function watchCommand(flags: WatchFlags): Promise<void> {
  const connection = connectionOf(flags);
  const client = new ZabkvClient({
    nodes: connection.endpoints,
    timeoutMs: connection.timeoutMs ?? 5_000,
    connections: 1,
    ...(connection.token === undefined ? {} : { token: connection.token }),
    ...(connection.ca === undefined ? {} : { ca: connection.ca }),
    ...(connection.cert === undefined ? {} : { cert: connection.cert }),
    ...(connection.key === undefined ? {} : { key: connection.key }),
  });
  const stop = new AbortController();
  let cursor = flags.from;
  const interrupted = () => stop.abort();
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const options = {
      ...(flags.key === undefined ? {} : { key: flags.key }),
      ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
      ...(flags.progress === undefined ? {} : { progressSeconds: flags.progress }),
      signal: stop.signal,
    };
    const messages: AsyncGenerator<WatchMessage | ListedMessage> =
      flags.list === true
        ? client.listAndWatch(options)
        : client.watch({ ...options, ...(flags.from === undefined ? {} : { from: flags.from }) });
    for await (const message of messages) {
      if ('cursor' in message) cursor = message.cursor;
      if (flags.writeOut === 'json') console.log(JSON.stringify(message));
      else for (const line of simpleLines(message)) console.log(line);
    }
  } catch (error) {
    if (error instanceof CursorGone) {
      throw new CursorGone(
        `${error.message}: read the keys again, then watch without --from`,
        error.status,
        error.code,
      );
    }
    throw error;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await client.close();
    if (cursor !== undefined) console.error(`resume with --from '${cursor}'`);
  }
}
