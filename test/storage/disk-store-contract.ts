import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { expect, it, vi } from 'vitest';
import {
  APPEND_FOREVER,
  append,
  diskStoreHarness,
  durableThrough,
  entry,
  increasing,
  zxids,
  saveSnapshot,
} from './fixtures/disk-store-harness.js';
import { streamEntries, type StoreKind } from './fixtures/storage-user.js';

/** What every disk store behind the Storage port must do (see storage-port.ts). */
export function diskStoreContract(kind: StoreKind): void {
  const { tempDir, start, stop, reopen } = diskStoreHarness(kind);

  it('loads an empty image from a new store', async () => {
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
    host.user.write(saveSnapshot(4, 2, Uint8Array.of(5)));
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
    host.user.write(saveSnapshot(4, 2, Uint8Array.of(1)));
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

  it('marks only a brand-new store as a founding member; SetCurrentEpoch makes a voter', async () => {
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
    expect(host.store.stats).toEqual({ writes: 100, commits: 1, failures: 0 });
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

  it('fails a batch cleanly: WriteFailed, no Durable past it, writes ignored until a Load, then taken again', async () => {
    const path = tempDir();
    const fatal: Error[] = [];
    const host = start(path, { onFailure: (error) => fatal.push(error) });
    host.user.write(append(1, 1, 2));
    await durableThrough(host, 1);
    host.user.write(append(2, 3));
    host.user.write(append(3, 3)); // out of order: the store cannot apply it
    await vi.waitFor(() => expect(host.user.failures).toHaveLength(1));
    expect(host.user.failures[0]).toMatchObject({ kind: 'WriteFailed', seq: 3, noSpace: false });
    expect(host.user.failures[0]!.reason).toMatch(/out of order/);
    host.user.write(append(4, 4)); // ignored: the writer has not reloaded yet
    host.user.load();
    await vi.waitFor(() => expect(host.user.images).toHaveLength(1));
    // What is durable, and nothing of the failed batch (whole, as it was one batch).
    expect(zxids(host.user.images[0]!)).toEqual([1, 2]);
    expect(host.store.stats).toEqual({ writes: 1, commits: 1, failures: 1 });
    expect(host.user.durable).toEqual([1]);
    // After the Load the store takes writes again, from the state it loaded.
    host.user.write(append(5, 3));
    await durableThrough(host, 5);
    await stop(host);
    expect(zxids((await reopen(path)).image)).toEqual([1, 2, 3]);
    expect(fatal).toEqual([]);
  });

  it('reports its free space against the reserve: once at start, then on each crossing', async () => {
    let free = 100 * 2 ** 20;
    const host = start(tempDir(), {
      minFreeBytes: 10 * 2 ** 20,
      spaceCheckMs: 5,
      freeBytes: () => Promise.resolve(free),
    });
    await vi.waitFor(() => expect(host.user.space).toHaveLength(1));
    expect(host.user.space[0]).toEqual({
      kind: 'SpaceLow',
      low: false,
      roomy: true,
      freeBytes: free,
    });
    free = 9 * 2 ** 20;
    await vi.waitFor(() => expect(host.user.space).toHaveLength(2));
    expect(host.user.space[1]).toMatchObject({ low: true, roomy: false });
    // Just above the reserve is not enough to leave "low": no flapping at the line.
    free = 10 * 2 ** 20 + 1;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(host.user.space).toHaveLength(2);
    // Above the reserve, but not twice it: no longer low, not roomy.
    free = 15 * 2 ** 20;
    await vi.waitFor(() => expect(host.user.space).toHaveLength(3));
    expect(host.user.space[2]).toMatchObject({ low: false, roomy: false });
    free = 50 * 2 ** 20;
    await vi.waitFor(() => expect(host.user.space).toHaveLength(4));
    expect(host.user.space[3]).toMatchObject({ low: false, roomy: true });
  });

  it('loses nothing it called durable when its process is killed with SIGKILL mid-stream', async () => {
    const path = tempDir();
    const child = spawn(process.execPath, [APPEND_FOREVER, path, kind], {
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
}
