import { randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readFileIfThere, replaceFileSync } from '../components/storage/atomic-file.js';
import { nodeId, type NodeId } from '../components/network/node-id.js';

/**
 * What makes a node a founding member (bootstrap.Table's `founding`) outlive a restart: a node
 * keeps the nonce of its check-in until its table comes, and the bootstrap node keeps the
 * check-ins the cluster formed with. A restart before the table came (or of the bootstrap node
 * before every table went out) is then still founding; a wiped data directory is not, since
 * its nonce went with it.
 */
const NONCE_FILE = 'check-in-nonce';
const FORMATION_FILE = 'formation.json';

/** This data directory's check-in nonce, drawn and written durably the first time. */
export function checkInNonce(dataDir: string): number {
  const path = join(dataDir, NONCE_FILE);
  const saved = readFileIfThere(path);
  if (saved !== null) {
    const nonce = Number(saved.trim());
    if (Number.isSafeInteger(nonce) && nonce > 0) return nonce;
    throw new Error(`${path} is damaged: delete it (the node checks in as a new one)`);
  }
  const nonce = randomInt(1, 2 ** 48);
  replaceFileSync(path, String(nonce));
  return nonce;
}

/** Deletes the nonce once the table is kept: a restart from the table checks in no more. */
export function forgetCheckInNonce(dataDir: string): void {
  rmSync(join(dataDir, NONCE_FILE), { force: true });
}

/** The check-ins the cluster formed with (the bootstrap node's), or null before formation. */
export function loadFormation(dataDir: string): ReadonlyMap<NodeId, number> | null {
  const path = join(dataDir, FORMATION_FILE);
  const text = readFileIfThere(path);
  if (text === null) return null;
  const entries = JSON.parse(text) as unknown;
  if (
    !Array.isArray(entries) ||
    !entries.every(
      (e) =>
        Array.isArray(e) &&
        e.length === 2 &&
        Number.isSafeInteger(e[0]) &&
        Number.isSafeInteger(e[1]),
    )
  ) {
    throw new Error(`${path} is damaged`);
  }
  return new Map((entries as [number, number][]).map(([id, nonce]) => [nodeId(id), nonce]));
}

/** Writes the check-ins the cluster formed with, durably (before any table goes out). */
export function saveFormation(dataDir: string, formation: ReadonlyMap<NodeId, number>): void {
  replaceFileSync(join(dataDir, FORMATION_FILE), JSON.stringify([...formation]));
}
