/**
 * lmdb runs without fsync; a power loss is survived by the checkpoint copy
 * (state/power-loss-recovery.ts). A stop without a close leaves the boot's marker behind: these
 * tests close the environment (which commits everything) and then put a marker back, as a
 * process that died would have left it, and start again in the same boot or in another.
 */
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { replaceFileSync, replaceWithCopySync } from '../../components/storage/atomic-file.js';
import { CheckpointCopies } from '../../state/checkpoint-copies.js';
import { checkpointLogBytesFor, LmdbStateEnvironment } from '../../state/lmdb-state-environment.js';
import {
  CHECKPOINT_FILE,
  COPYING_DIRECTORY,
  DATA_FILE,
  prepareStateDirectory,
  RETIRED_FILE,
  type StateFiles,
} from '../../state/power-loss-recovery.js';
import type { StateStore } from '../../state/state-store.js';
import { checkpointed } from './fixtures/state-stores.js';
import { contents, put, z } from './fixtures/writes.js';

const paths: string[] = [];
const environments: LmdbStateEnvironment[] = [];

afterEach(async () => {
  for (const environment of environments.splice(0)) await environment.close();
  for (const path of paths.splice(0)) rmSync(path, { recursive: true, force: true });
});

function directory(): string {
  const path = mkdtempSync(join(tmpdir(), 'zabkv-power-loss-'));
  paths.push(path);
  return path;
}

function start(path: string, bootId: string | null, files?: StateFiles): LmdbStateEnvironment {
  const environment = new LmdbStateEnvironment(path, { bootId, ...(files ? { files } : {}) });
  environments.push(environment);
  return environment;
}

async function closeCleanly(environment: LmdbStateEnvironment): Promise<void> {
  environments.splice(environments.indexOf(environment), 1);
  await environment.close();
}

/** Closes `environment` (everything committed) and leaves `bootId`'s marker, as a crash would. */
async function crash(
  environment: LmdbStateEnvironment,
  path: string,
  bootId: string,
): Promise<void> {
  await closeCleanly(environment);
  writeFileSync(join(path, 'unsynced'), bootId);
}

async function released(store: StateStore, counter: number, key: string): Promise<void> {
  store.apply(z(counter), put(key, `value ${counter}`));
  store.release(z(counter));
  await Promise.resolve();
}

/** a and b checkpointed (copied), then c committed after the copy. */
async function checkpointThenMore(path: string): Promise<void> {
  const environment = start(path, 'boot-A');
  const store = environment.store(1);
  await released(store, 1, 'a');
  await released(store, 2, 'b');
  expect(await checkpointed(store)).toBe(z(2));
  await released(store, 3, 'c');
  await crash(environment, path, 'boot-A');
}

describe('lmdb state across crashes and power losses', () => {
  it('a crash in the same boot keeps every commit (the page cache had them)', async () => {
    const path = directory();
    await checkpointThenMore(path);
    const environment = start(path, 'boot-A');
    expect(environment.recovery).toBe('kept');
    const store = environment.store(1);
    expect(store.appliedZxid).toBe(z(3));
    expect(contents(store, ['a', 'b', 'c'])).toEqual({
      a: [z(1), 'value 1'],
      b: [z(2), 'value 2'],
      c: [z(3), 'value 3'],
    });
  });

  it.each(['kept', 'clean'] as const)(
    'a %s start claims durable only what the copy holds, which a power loss then puts back',
    async (how) => {
      // The log is restarted or compacted behind durableZxid: claimed at lmdb's applied zxid, a
      // power loss after this start would put back the copy at b, with the log gone behind c.
      const path = directory();
      await checkpointThenMore(path);
      if (how === 'clean') {
        const reopened = start(path, 'boot-A');
        await closeCleanly(reopened);
      }
      const environment = start(path, 'boot-A');
      expect(environment.recovery).toBe(how);
      const store = environment.store(1);
      expect(store.appliedZxid).toBe(z(3));
      const claimed = store.durableZxid;
      expect(claimed).toBe(z(2)); // read from the copy, which leaves no lock file behind
      await vi.waitFor(() => expect(existsSync(join(path, `${CHECKPOINT_FILE}-lock`))).toBe(false));
      await crash(environment, path, 'boot-A');
      const afterPowerLoss = start(path, 'boot-B');
      expect(afterPowerLoss.recovery).toBe('restored');
      expect(afterPowerLoss.store(1).appliedZxid).toBe(z(2));
      expect(claimed).toBeLessThanOrEqual(z(2));
    },
  );

  it('a start that makes the first copy, or puts the copy back, is durable through its state', async () => {
    const path = directory();
    await checkpointThenMore(path);
    const restored = start(path, 'boot-B');
    expect(restored.recovery).toBe('restored');
    expect(restored.store(1).durableZxid).toBe(z(2));
    await closeCleanly(restored);
    rmSync(join(path, CHECKPOINT_FILE), { force: true });
    const copied = start(path, 'boot-B');
    expect(copied.recovery).toBe('clean');
    expect(copied.store(1).durableZxid).toBe(z(2));
  });

  it('after another boot the state is the checkpoint copy, from which the log replays', async () => {
    const path = directory();
    await checkpointThenMore(path);
    const environment = start(path, 'boot-B');
    expect(environment.recovery).toBe('restored');
    const store = environment.store(1);
    expect(store.appliedZxid).toBe(z(2));
    expect(store.durableZxid).toBe(z(2));
    expect(contents(store, ['a', 'b', 'c'])).toEqual({
      a: [z(1), 'value 1'],
      b: [z(2), 'value 2'],
      c: 404,
    });
    expect(store.size).toBe(2);
  });

  it('after another boot with no copy yet, the state starts empty (the log was never compacted)', async () => {
    const path = directory();
    const first = start(path, 'boot-A');
    await released(first.store(1), 1, 'a');
    await crash(first, path, 'boot-A');
    expect(existsSync(join(path, CHECKPOINT_FILE))).toBe(false);
    const environment = start(path, 'boot-B');
    expect(environment.recovery).toBe('emptied');
    expect(environment.store(1).appliedZxid).toBe(0);
    expect(environment.store(1).size).toBe(0);
  });

  it('a clean close syncs and leaves no marker: another boot keeps everything', async () => {
    const path = directory();
    const first = start(path, 'boot-A');
    await released(first.store(1), 1, 'a');
    await closeCleanly(first);
    expect(existsSync(join(path, 'unsynced'))).toBe(false);
    const environment = start(path, 'boot-B');
    expect(environment.recovery).toBe('clean');
    expect(environment.store(1).appliedZxid).toBe(z(1));
  });

  it('without a boot id any marker counts as another boot: the copy comes back', async () => {
    const path = directory();
    await checkpointThenMore(path);
    const environment = start(path, null);
    expect(environment.recovery).toBe('restored');
    expect(environment.store(1).appliedZxid).toBe(z(2));
  });

  it('a state written before copies existed gets its first copy before it opens', async () => {
    const path = directory();
    const first = start(path, 'boot-A');
    await released(first.store(1), 1, 'a');
    await closeCleanly(first);
    rmSync(join(path, CHECKPOINT_FILE), { force: true });
    expect(prepareStateDirectory(path, 'boot-B')).toEqual({ recovery: 'clean', syncCommits: null });
    expect(statSync(join(path, CHECKPOINT_FILE)).size).toBeGreaterThan(0);
    // A power loss now puts back that copy, which holds `a`.
    const environment = start(path, 'boot-C');
    expect(environment.recovery).toBe('restored');
    expect(environment.store(1).appliedZxid).toBe(z(1));
  });

  it('checkpoints come rarer as the state grows, within 64 MiB and 128 MiB of log', () => {
    const MiB = 2 ** 20;
    expect(start(directory(), 'boot-A').store(1).checkpointLogBytes).toBe(64 * MiB);
    expect(checkpointLogBytesFor(0)).toBe(64 * MiB);
    expect(checkpointLogBytesFor(384 * MiB)).toBe(96 * MiB);
    expect(checkpointLogBytesFor(4096 * MiB)).toBe(128 * MiB);
    const path = directory();
    const fixed = new LmdbStateEnvironment(path, { bootId: 'boot-A', checkpointLogBytes: 5 });
    environments.push(fixed);
    expect(fixed.store(1).checkpointLogBytes).toBe(5);
  });
});

/** A disk with no room: each replacement fails with ENOSPC, leaving its temporary file half written. */
function refusing(): never {
  throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}
const fullDisk: StateFiles = {
  replace: (path) => {
    writeFileSync(`${path}.tmp`, 'half');
    refusing();
  },
  copy: (_from, path) => {
    writeFileSync(`${path}.tmp`, 'half');
    refusing();
  },
};
/** Room for a copy over lmdb's file, none for the marker's new file. */
const noRoomForMarker: StateFiles = { ...fullDisk, copy: replaceWithCopySync };

describe('a start on a full disk (power-loss-recovery.ts)', () => {
  const marker = (path: string) => join(path, 'unsynced');

  it('a restart in the same boot finds its own marker and writes nothing: no crash loop', async () => {
    const path = directory();
    await checkpointThenMore(path);
    const environment = start(path, 'boot-A', fullDisk);
    expect(environment.recovery).toBe('kept');
    expect(environment.syncsCommits).toBe(false);
    expect(readFileSync(marker(path), 'utf8')).toBe('boot-A');
    expect(environment.store(1).appliedZxid).toBe(z(3));
  });

  it('a clean start that cannot leave a marker syncs every commit instead, and leaves none', async () => {
    const path = directory();
    await checkpointThenMore(path);
    await closeCleanly(start(path, 'boot-A'));
    const environment = start(path, 'boot-B', fullDisk);
    expect(environment.recovery).toBe('clean');
    expect(environment.syncsCommits).toBe(true);
    expect(existsSync(marker(path))).toBe(false);
    expect(existsSync(`${marker(path)}.tmp`)).toBe(false);
    const store = environment.store(1);
    await released(store, 4, 'd');
    expect(await checkpointed(store)).toBe(z(4));
  });

  it('a start whose first copy the disk refuses syncs every commit; the first checkpoint copies', async () => {
    // A state with no copy may be one written when every commit was synced, whose log was
    // compacted behind it: a power loss must never find it torn with no copy to put back.
    const path = directory();
    const first = start(path, 'boot-A');
    await released(first.store(1), 1, 'a');
    await closeCleanly(first);
    rmSync(join(path, CHECKPOINT_FILE), { force: true });
    const environment = start(path, 'boot-B', fullDisk);
    expect(environment.recovery).toBe('clean');
    expect(environment.syncsCommits).toBe(true);
    expect(existsSync(join(path, CHECKPOINT_FILE))).toBe(false);
    expect(existsSync(join(path, `${CHECKPOINT_FILE}.tmp`))).toBe(false);
    // No marker: a power loss finds lmdb's own synced file, whole, not an empty state.
    expect(existsSync(marker(path))).toBe(false);
    const store = environment.store(1);
    expect(store.durableZxid).toBe(0); // nothing in a copy yet
    await released(store, 2, 'b');
    expect(await checkpointed(store)).toBe(z(2));
    expect(existsSync(join(path, CHECKPOINT_FILE))).toBe(true);
  });

  it('a restart in the same boot whose first copy the disk refuses keeps its marker and goes on', async () => {
    // That marker was left by a run that started with no state and no copy: the log was never
    // compacted behind the state, so a power loss may empty it.
    const path = directory();
    const first = start(path, 'boot-A');
    await released(first.store(1), 1, 'a');
    await crash(first, path, 'boot-A');
    const environment = start(path, 'boot-A', fullDisk);
    expect(environment.recovery).toBe('kept');
    expect(environment.syncsCommits).toBe(false);
    expect(readFileSync(marker(path), 'utf8')).toBe('boot-A');
    expect(environment.store(1).appliedZxid).toBe(z(1));
  });

  it('after a power loss, the copy goes back in place of the torn file, which is freed first', async () => {
    const path = directory();
    await checkpointThenMore(path);
    const seen: boolean[] = [];
    const environment = start(path, 'boot-B', {
      replace: replaceFileSync,
      copy: (from, to) => {
        if (to.endsWith(DATA_FILE)) seen.push(existsSync(to));
        replaceWithCopySync(from, to);
      },
    });
    expect(environment.recovery).toBe('restored');
    expect(seen).toEqual([false]);
    expect(readFileSync(marker(path), 'utf8')).toBe('boot-B');
  });

  it("after a power loss with no room for this boot's marker, the other boot's goes", async () => {
    const path = directory();
    await checkpointThenMore(path);
    const environment = start(path, 'boot-B', noRoomForMarker);
    expect(environment.recovery).toBe('restored');
    expect(environment.syncsCommits).toBe(true);
    expect(existsSync(marker(path))).toBe(false);
    expect(environment.store(1).appliedZxid).toBe(z(2));
  });
});

describe('CheckpointCopies', () => {
  it('waits for room on the disk, then copies', async () => {
    const path = directory();
    const root = open({ path, noSync: true });
    await root.put('k', 'v');
    let free = 0;
    const seen = { copied: 0, failed: 0 };
    const copies = new CheckpointCopies(path, root, () => free, undefined, {
      copied: () => seen.copied++,
      failed: () => seen.failed++,
    });
    const copied = copies.durable();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(join(path, CHECKPOINT_FILE))).toBe(false);
    free = Number.MAX_SAFE_INTEGER;
    expect(await copied).toBe(true);
    expect(existsSync(join(path, CHECKPOINT_FILE))).toBe(true);
    expect(seen).toEqual({ copied: 1, failed: 1 });
    await copies.close();
    await root.close();
  });

  /** The values of `keys` in the copy at `path` (opened read-only, as a restore would). */
  async function readCopy(path: string, keys: string[]): Promise<unknown[]> {
    const copy = open({ path, readOnly: true, noSubdir: true });
    try {
      return keys.map((key) => copy.get(key));
    } finally {
      await copy.close();
    }
  }

  /** An lmdb environment holding k = v, and its copies; `free` is the room on the disk. */
  async function copiesOfKv(free: () => number = () => Number.MAX_SAFE_INTEGER) {
    const path = directory();
    const root = open({ path, noSync: true });
    await root.put('k', 'v');
    return { path, root, copies: new CheckpointCopies(path, root, free) };
  }

  it('a copy holds what lmdb held; the copy it replaces is retired, leaving no file behind', async () => {
    const { path, root, copies } = await copiesOfKv();
    await root.put('k', 'first');
    expect(await copies.durable()).toBe(true);
    await root.put('k', 'second');
    await root.put('big', 'x'.repeat(100_000));
    expect(await copies.durable()).toBe(true);
    expect(existsSync(join(path, RETIRED_FILE))).toBe(false);
    expect(await readCopy(join(path, CHECKPOINT_FILE), ['k', 'big'])).toEqual([
      'second',
      'x'.repeat(100_000),
    ]);
    await copies.close();
    await root.close();
  });

  it('a retired copy left by a stop is shortened and removed by the next copy', async () => {
    const { path, root, copies } = await copiesOfKv();
    writeFileSync(join(path, RETIRED_FILE), Buffer.alloc(40 * 2 ** 20, 1));
    expect(await copies.durable()).toBe(true);
    expect(existsSync(join(path, RETIRED_FILE))).toBe(false);
    expect(await readCopy(join(path, CHECKPOINT_FILE), ['k'])).toEqual(['v']);
    await copies.close();
    await root.close();
  });

  it('a retired name still linked to the installed copy goes without touching the copy', async () => {
    let free = Number.MAX_SAFE_INTEGER;
    const { path, root, copies } = await copiesOfKv(() => free);
    expect(await copies.durable()).toBe(true);
    const checkpoint = join(path, CHECKPOINT_FILE);
    const bytes = statSync(checkpoint).size;
    // As a stop between keeping the old copy aside and renaming the new one over it leaves it.
    linkSync(checkpoint, join(path, RETIRED_FILE));
    free = 0; // the next copy retires what is left, then finds no room and stops there
    const next = copies.durable();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await copies.close();
    expect(await next).toBe(false);
    expect(existsSync(join(path, RETIRED_FILE))).toBe(false);
    expect(statSync(checkpoint).size).toBe(bytes);
    expect(await readCopy(checkpoint, ['k'])).toEqual(['v']);
    await root.close();
  });

  it('copies the whole file where lmdb refuses a compacting copy', async () => {
    const { path, root, copies } = await copiesOfKv();
    const backup = root.backup.bind(root);
    root.backup = (to: string, compact: boolean) =>
      compact === true ? Promise.reject(new Error('MDB_INCOMPATIBLE')) : backup(to, compact);
    expect(await copies.durable()).toBe(true);
    expect(await readCopy(join(path, CHECKPOINT_FILE), ['k'])).toEqual(['v']);
    await copies.close();
    await root.close();
  });

  it('a start removes a copy under way and a retired copy that a stop left behind', () => {
    const path = directory();
    writeFileSync(join(path, RETIRED_FILE), 'old copy');
    mkdirSync(join(path, COPYING_DIRECTORY));
    writeFileSync(join(path, COPYING_DIRECTORY, 'data.mdb'), 'half a copy');
    const halfReplaced = [DATA_FILE, CHECKPOINT_FILE, 'unsynced'].map((file) =>
      join(path, `${file}.tmp`),
    );
    for (const file of halfReplaced) writeFileSync(file, 'half a replacement');
    prepareStateDirectory(path, 'boot-A');
    expect(existsSync(join(path, RETIRED_FILE))).toBe(false);
    expect(existsSync(join(path, COPYING_DIRECTORY))).toBe(false);
    for (const file of halfReplaced) expect(existsSync(file)).toBe(false);
  });

  it('gives up when closed while the disk has no room', async () => {
    const path = directory();
    const root = open({ path, noSync: true });
    await root.put('k', 'v');
    const copies = new CheckpointCopies(path, root, () => 0);
    const copied = copies.durable();
    await copies.close();
    expect(await copied).toBe(false);
    await root.close();
  });
});
