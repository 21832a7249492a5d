import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database } from 'lmdb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LmdbStorageInit } from '../../components/storage/lmdb-storage.js';
import type { StorageWrite, StoredImage } from '../../components/storage/index.js';
import { sealEntry, sealSnapshot } from '../../components/storage/stored-record.js';
import { startStorage, streamEntries, type StorageHost } from './fixtures/storage-user.js';

const APPEND_FOREVER = 'dist/test/storage/fixtures/append-forever.js';
const dirs: string[] = [];
const hosts: StorageHost[] = [];

afterEach(async () => {
  for (const host of hosts.splice(0)) {
    host.kill();
    await host.store.whenClosed();
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zabkv-lmdb-'));
  dirs.push(dir);
  return dir;
}

function start(path: string, options: Partial<LmdbStorageInit> = {}): StorageHost {
  const failures: Error[] = [];
  const host = startStorage({
    path,
    initialize: true,
    onFailure: (error) => failures.push(error),
    ...options,
  });
  hosts.push(host);
  return host;
}

async function stop(host: StorageHost): Promise<void> {
  hosts.splice(hosts.indexOf(host), 1);
  host.kill();
  await host.store.whenClosed();
}

async function durableThrough(host: StorageHost, seq: number): Promise<void> {
  await vi.waitFor(() => expect(host.user.durable.at(-1)).toBe(seq), { timeout: 10_000 });
}

/** Loads in a fresh host, the way a restarted node would, and leaves that host running. */
async function reopen(
  path: string,
  initialize = true,
): Promise<{ host: StorageHost; image: StoredImage }> {
  const host = start(path, { initialize });
  host.user.load();
  // Load is answered within the handler: no I/O wait involved.
  await vi.waitFor(() => expect(host.user.images).toHaveLength(1));
  return { host, image: host.user.images[0]! };
}

/** Writes to the environment behind the store's back, as damage would. */
async function tamper(path: string, act: (dbs: Tampering) => void): Promise<void> {
  const root = open({ path, maxDbs: 4 });
  act({
    log: root.openDB<Uint8Array, number>('log', { encoding: 'binary' }),
    snapshot: root.openDB<Uint8Array, number>('snapshot', { encoding: 'binary' }),
  });
  await root.close();
}
interface Tampering {
  readonly log: Database<Uint8Array, number>;
  readonly snapshot: Database<Uint8Array, number>;
}

const entry = (zxid: number) => ({ zxid, payload: new Uint8Array([zxid % 256, 7, 7]) });
const append = (seq: number, ...zxids: number[]): StorageWrite => ({
  kind: 'Append',
  seq,
  entries: zxids.map(entry),
});
const zxids = (image: StoredImage) => image.log.map((e) => e.zxid);
const increasing = (seqs: readonly number[]) => seqs.every((s, i) => i === 0 || s > seqs[i - 1]!);

describe('LmdbStorage', () => {
  it('loads an empty image from a new database', async () => {
    const { image } = await reopen(tempDir());
    expect(image).toEqual({
      acceptedEpoch: 0,
      currentEpoch: 0,
      voter: true,
      snapshot: null,
      log: [],
      damage: 'none',
    });
  });

  it('keeps durable writes across a close and reopen', async () => {
    const path = tempDir();
    const host = start(path);
    host.user.write({ kind: 'SetAcceptedEpoch', seq: 1, epoch: 2 });
    host.user.write(append(2, 1, 2, 3));
    host.user.write({ kind: 'SetCurrentEpoch', seq: 3, epoch: 2 });
    host.user.write({
      kind: 'SaveSnapshot',
      seq: 4,
      snapshot: { zxid: 2, state: Uint8Array.of(5) },
    });
    await durableThrough(host, 4);
    await stop(host);
    const { image } = await reopen(path);
    expect(image).toEqual({
      acceptedEpoch: 2,
      currentEpoch: 2,
      voter: true,
      snapshot: { zxid: 2, state: Uint8Array.of(5) },
      log: [entry(1), entry(2), entry(3)],
      damage: 'none',
    });
  });

  it('applies Truncate, Compact and InstallSnapshot after the writes before them, even in one batch', async () => {
    const path = tempDir();
    const host = start(path);
    host.user.write(append(1, 1, 2, 3, 4, 5));
    host.user.write({ kind: 'Truncate', seq: 2, afterZxid: 3 });
    host.user.write(append(3, 4, 5));
    host.user.write({
      kind: 'SaveSnapshot',
      seq: 4,
      snapshot: { zxid: 2, state: Uint8Array.of(1) },
    });
    host.user.write({ kind: 'Compact', seq: 5, throughZxid: 2 });
    await durableThrough(host, 5);
    await stop(host);
    let opened = await reopen(path);
    expect(zxids(opened.image)).toEqual([3, 4, 5]);
    expect(opened.image.snapshot).toEqual({ zxid: 2, state: Uint8Array.of(1) });

    // SNAP sync: the snapshot replaces the whole log, appends go on after it.
    opened.host.user.write(append(1, 6));
    opened.host.user.write({
      kind: 'InstallSnapshot',
      seq: 2,
      snapshot: { zxid: 9, state: Uint8Array.of(2) },
    });
    opened.host.user.write(append(3, 10, 11));
    opened.host.user.write({ kind: 'Truncate', seq: 4, afterZxid: 10 });
    await durableThrough(opened.host, 4);
    await stop(opened.host);
    opened = await reopen(path);
    expect(zxids(opened.image)).toEqual([10]);
    expect(opened.image.snapshot).toEqual({ zxid: 9, state: Uint8Array.of(2) });
  });

  it('truncates everything above a zxid below the log and compacts all of it', async () => {
    const path = tempDir();
    const host = start(path);
    host.user.write(append(1, 5, 6, 7));
    host.user.write({ kind: 'Truncate', seq: 2, afterZxid: 0 });
    host.user.write(append(3, 1, 2));
    host.user.write({ kind: 'Compact', seq: 4, throughZxid: 2 });
    host.user.write(append(5, 3));
    await durableThrough(host, 5);
    await stop(host);
    expect(zxids((await reopen(path)).image)).toEqual([3]);
  });

  it('marks only a brand-new database as a founding member; SetCurrentEpoch makes a voter', async () => {
    const path = tempDir();
    let opened = await reopen(path, false);
    expect(opened.image.voter).toBe(false);
    opened.host.user.write({ kind: 'SetAcceptedEpoch', seq: 1, epoch: 3 });
    await durableThrough(opened.host, 1);
    await stop(opened.host);
    // Not brand new any more: `initialize` no longer makes it a voter.
    opened = await reopen(path, true);
    expect(opened.image).toMatchObject({ voter: false, acceptedEpoch: 3, currentEpoch: 0 });
    opened.host.user.write({ kind: 'SetCurrentEpoch', seq: 1, epoch: 3 });
    await durableThrough(opened.host, 1);
    await stop(opened.host);
    opened = await reopen(path, false);
    expect(opened.image).toMatchObject({ voter: true, acceptedEpoch: 3, currentEpoch: 3 });
  });

  it('commits the writes of one turn together: one Durable for the last seq', async () => {
    const host = start(tempDir());
    for (let seq = 1; seq <= 100; seq++) host.user.write(append(seq, seq));
    await durableThrough(host, 100);
    expect(host.user.durable).toEqual([100]);
    expect(host.store.stats).toEqual({ writes: 100, commits: 1 });
  });

  it('reports Durable in seq order over many overlapping turns, covering every write', async () => {
    const path = tempDir();
    const host = start(path);
    const TURNS = 60;
    let seq = 0;
    for (let turn = 0; turn < TURNS; turn++) {
      for (let i = 0; i < 5; i++) {
        seq++;
        host.user.write(append(seq, seq));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await durableThrough(host, seq);
    expect(increasing(host.user.durable)).toBe(true);
    expect(host.store.stats.writes).toBe(seq);
    expect(host.store.stats.commits).toBeLessThanOrEqual(TURNS);
    await stop(host);
    expect(zxids((await reopen(path)).image)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
  });

  it('closes cleanly when killed with writes in flight, leaving a prefix of them', async () => {
    const path = tempDir();
    const host = start(path);
    let seq = 0;
    for (let turn = 0; turn < 8; turn++) {
      for (let i = 0; i < 3; i++) host.user.write(append(++seq, seq));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const reported = host.user.durable.at(-1) ?? 0;
    await stop(host);
    const loaded = zxids((await reopen(path)).image);
    expect(loaded).toEqual(Array.from({ length: loaded.length }, (_, i) => i + 1));
    expect(loaded.length).toBeGreaterThanOrEqual(reported);
  });

  it('stops on a failed write: onFailure, no Durable past it, nothing of its batch on disk', async () => {
    const path = tempDir();
    const failures: Error[] = [];
    const host = start(path, { onFailure: (error) => failures.push(error) });
    host.user.write(append(1, 1, 2));
    await durableThrough(host, 1);
    host.user.write(append(2, 3));
    host.user.write(append(3, 3)); // out of order: the store cannot apply it
    await vi.waitFor(() => expect(failures).toHaveLength(1));
    expect(failures[0]!.message).toMatch(/out of order/);
    host.user.write(append(4, 4));
    // Answered after the store has handled (and refused) the write before it.
    host.user.load();
    await vi.waitFor(() => expect(host.user.images).toHaveLength(1));
    expect(zxids(host.user.images[0]!)).toEqual([1, 2]);
    expect(host.store.stats).toEqual({ writes: 1, commits: 1 });
    expect(host.user.durable).toEqual([1]);
    await stop(host);
    expect(zxids((await reopen(path)).image)).toEqual([1, 2]);
  });

  it('refuses a transaction whose predecessor is missing from disk', async () => {
    const path = tempDir();
    const failures: Error[] = [];
    const host = start(path, { onFailure: (error) => failures.push(error) });
    host.user.write(append(1, 1));
    await durableThrough(host, 1);
    // As if the transaction before the next one had failed to commit.
    const root = open({ path, maxDbs: 4 });
    root.openDB<number, string>('meta', { encoding: 'msgpack' }).putSync('batches', 0);
    host.user.write(append(2, 2));
    await vi.waitFor(() => expect(failures).toHaveLength(1));
    expect(failures[0]!.message).toMatch(/never committed/);
    expect(host.user.durable).toEqual([1]);
    await stop(host);
    await root.close();
    expect(zxids((await reopen(path)).image)).toEqual([1]);
  });

  it.each([
    ['a damaged record in the middle', 2],
    // lmdb writes a record whole or not at all: a bad last record is damage, not a torn
    // write, and dropping it could lose an entry this node has acknowledged.
    ['a damaged last record', 3],
  ])('detects %s: an empty non-voter that keeps its epochs', async (_name, damaged) => {
    const path = tempDir();
    const host = start(path);
    host.user.write({ kind: 'SetAcceptedEpoch', seq: 1, epoch: 4 });
    host.user.write({ kind: 'SetCurrentEpoch', seq: 2, epoch: 3 });
    host.user.write(append(3, 1, 2, 3));
    await durableThrough(host, 3);
    await stop(host);
    await tamper(path, ({ log }) => {
      const record = Uint8Array.from(sealEntry(entry(damaged)));
      record[record.length - 1]! ^= 0x40;
      log.putSync(damaged, record);
    });
    const opened = await reopen(path);
    expect(opened.image).toEqual({
      acceptedEpoch: 4,
      currentEpoch: 3,
      voter: false,
      snapshot: null,
      log: [],
      damage: 'corrupt',
    });
    // The damage is discarded on disk too: the next start finds a clean, empty non-voter.
    await stop(opened.host);
    expect((await reopen(path)).image).toMatchObject({ damage: 'none', voter: false, log: [] });
  });

  it('treats a short last record and a bad snapshot as damage too', async () => {
    for (const damage of ['short last record', 'bad snapshot'] as const) {
      const path = tempDir();
      const host = start(path);
      host.user.write(append(1, 1, 2));
      host.user.write({
        kind: 'SaveSnapshot',
        seq: 2,
        snapshot: { zxid: 1, state: Uint8Array.of(3) },
      });
      await durableThrough(host, 2);
      await stop(host);
      await tamper(path, ({ log, snapshot }) => {
        if (damage === 'short last record') log.putSync(2, sealEntry(entry(2)).subarray(0, 5));
        else {
          const record = Uint8Array.from(sealSnapshot({ zxid: 1, state: Uint8Array.of(3) }));
          record[record.length - 1]! ^= 0x01;
          snapshot.putSync(0, record);
        }
      });
      expect((await reopen(path)).image).toMatchObject({ damage: 'corrupt', snapshot: null });
    }
  });

  it('loses nothing it called durable when its process is killed with SIGKILL mid-stream', async () => {
    const path = tempDir();
    const child = spawn(process.execPath, [APPEND_FOREVER, path], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const reported: number[] = [];
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) reported.push(Number(/^durable (\d+)$/.exec(line)![1]));
    });
    const exited = once(child, 'exit');
    await vi.waitFor(() => expect(reported.at(-1)).toBeGreaterThanOrEqual(1_000), {
      timeout: 30_000,
      interval: 5,
    });
    child.kill('SIGKILL');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    // Every line the child wrote before dying is in the pipe; read them all.
    if (!child.stdout.readableEnded) await once(child.stdout, 'end');

    expect(increasing(reported)).toBe(true);
    const { image } = await reopen(path);
    expect(image.damage).toBe('none');
    // Whole appends only, in order, with nothing missing: a prefix of what was written...
    const appended = image.log.length / 2;
    expect(Number.isInteger(appended)).toBe(true);
    const written = Array.from({ length: appended }, (_, i) => streamEntries(i + 1)).flat();
    expect(image.log).toEqual(written);
    // ...that holds every append the child was told was durable.
    expect(appended).toBeGreaterThanOrEqual(reported.at(-1)!);
  });
});
