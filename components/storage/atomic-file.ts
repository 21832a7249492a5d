import {
  closeSync,
  copyFileSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PRIVATE_FILE_MODE } from '../private-file.js';

/**
 * Replaces `path` with `bytes` so that after a crash the file holds either the old or the new
 * contents, never a mix, and the new contents once this returns: temporary file, fsync,
 * rename, fsync of the directory (without it the rename itself may not survive power loss).
 */
export function replaceFileSync(path: string, bytes: Uint8Array | string): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, bytes, { mode: PRIVATE_FILE_MODE });
  installSync(temporary, path);
}

/** `replaceFileSync` with the contents of the file `from` (a big one: the copy is the kernel's). */
export function replaceWithCopySync(from: string, path: string): void {
  const temporary = `${path}.tmp`;
  copyFileSync(from, temporary);
  installSync(temporary, path);
}

/** Makes `temporary` durable and puts it in place of `path`, durably. */
function installSync(temporary: string, path: string): void {
  const file = openSync(temporary, 'r+');
  try {
    fsyncSync(file);
  } finally {
    closeSync(file);
  }
  renameSync(temporary, path);
  syncDirectorySync(dirname(path));
}

/** `replaceFileSync` off the event loop, for writes made while the node serves. */
export async function replaceFile(path: string, bytes: Uint8Array): Promise<void> {
  await installFile(await stageFile(path, bytes), path);
}

/**
 * The first half of `replaceFile`: writes `bytes` to a temporary file next to `path` (named
 * with `tag`, so several can be staged at once) and makes it durable. Slow for a big file, and
 * nothing is replaced yet, so it may run ahead of the writes ordered before the replacement.
 */
export async function stageFile(path: string, bytes: Uint8Array, tag = 'tmp'): Promise<string> {
  const temporary = `${path}.${tag}`;
  const file = await open(temporary, 'w', PRIVATE_FILE_MODE);
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
  return temporary;
}

/** Makes a file written some other way (by lmdb, say) durable: the first half's fsync. */
export async function syncFile(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}

/** The second half: puts a staged file in place, durably. */
export async function installFile(temporary: string, path: string): Promise<void> {
  await rename(temporary, path);
  await syncDirectory(dirname(path));
}

/** Makes the directory's entries (files created, renamed or removed in it) durable. */
export function syncDirectorySync(path: string): void {
  const directory = openSync(path, 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}

export async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** A small file's text, or null when there is no such file (any other error is thrown). */
export function readFileIfThere(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
