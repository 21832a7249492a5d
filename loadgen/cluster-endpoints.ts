import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FormedCluster } from '../frontend/cluster-status.js';
import { ZabkvClient, type ClientOptions } from '../client/zabkv-client.js';

/** What `zabkv start` writes while it runs (cli/start-command.ts). */
const STATE_FILE = 'cluster.json';

/**
 * The endpoints of the cluster `zabkv start` (`npm start`) runs on `dataDir`, from the state
 * file it keeps there while it runs; null when there is none or its process is gone.
 */
export function startedCluster(dataDir: string): string[] | null {
  let state: { pid?: unknown; endpoints?: unknown };
  try {
    state = JSON.parse(readFileSync(join(dataDir, STATE_FILE), 'utf8')) as typeof state;
  } catch {
    return null;
  }
  if (typeof state.pid !== 'number' || !Array.isArray(state.endpoints)) return null;
  try {
    process.kill(state.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return null; // a stale file
  }
  const endpoints = state.endpoints.filter((e): e is string => typeof e === 'string');
  return endpoints.length === 0 ? null : endpoints;
}

/**
 * Every member of every group, as `/cluster` of the first given endpoint that answers lists
 * them (same scheme as the endpoints given), plus the given ones; the given ones alone when
 * none answers (the load generator counts that, and skips nodes that do not answer).
 */
export async function allMembers(
  given: readonly string[],
  security: Omit<ClientOptions, 'nodes'> = {},
): Promise<string[]> {
  const client = new ZabkvClient({ ...security, nodes: given, attempts: 1, timeoutMs: 3_000 });
  try {
    const status = (await client.cluster()) as FormedCluster | { formed: false };
    if (!status.formed) return [...given];
    const scheme = new URL(given[0]!).protocol;
    const members = status.groups.flatMap((group) =>
      group.members.flatMap((member) =>
        member.http === undefined ? [] : [`${scheme}//${member.http.host}:${member.http.port}`],
      ),
    );
    return [...new Set([...given, ...members])];
  } catch {
    return [...given];
  } finally {
    await client.close();
  }
}
