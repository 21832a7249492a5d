import { closeSync, openSync, readFileSync } from 'node:fs';
import { portIsFree } from './free-ports.js';
import { join } from 'node:path';
import fsExt from 'fs-ext';
import { LOCK_FILE } from '../node/data-dir-lock.js';
import type { LocalClusterOptions } from './local-cluster.js';

/** Why `zabkv start` will not start: something it would use is in use. */
export class InUse extends Error {}

/**
 * The pid holding `dir`'s lock (node/data-dir-lock.ts), or null when it is free. Probing takes
 * the lock for an instant and drops it; a directory or lock file that cannot be opened is
 * left for the node to report.
 */
export function dataDirHolder(dir: string): number | null {
  let fd: number;
  try {
    fd = openSync(join(dir, LOCK_FILE), 'r');
  } catch {
    return null; // no lock file: no node has run there, or it is not a directory
  }
  try {
    fsExt.flockSync(fd, 'exnb');
    return null;
  } catch {
    const pid = Number(readFileSync(join(dir, LOCK_FILE), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : -1;
  } finally {
    closeSync(fd); // also drops the probe's own lock
  }
}

/**
 * Throws InUse, naming what and by whom, when a node's data directory is held by a running
 * node or one of its ports is taken: a second `zabkv start` beside a running cluster stops
 * here, before it touches anything.
 */
export async function checkFree(options: LocalClusterOptions): Promise<void> {
  for (let node = 1; node <= options.nodes; node++) {
    const dir = join(options.dataDir, `node-${node}`);
    const holder = dataDirHolder(dir);
    if (holder !== null) {
      throw new InUse(
        `${dir} is in use by ${holder > 0 ? `process ${holder}` : 'another process'}: ` +
          'a cluster is running on this data; stop it first, or give another --data',
      );
    }
  }
  for (let node = 1; node <= options.nodes; node++) {
    for (const [kind, first, flag] of [
      ['HTTP', options.firstHttpPort, '--http-port'],
      ['peer', options.firstPeerPort, '--peer-port'],
    ] as const) {
      const port = first + node - 1;
      if (!(await portIsFree(port))) {
        throw new InUse(
          `port ${port} (node ${node}'s ${kind} port) is in use: ` +
            `stop what listens there, or give another ${flag}`,
        );
      }
    }
  }
}

/** The last `lines` lines of a node's log, for a report of its exit. */
export function logTail(path: string, lines = 12): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch (error) {
    return `(no log: ${(error as Error).message})`;
  }
}
