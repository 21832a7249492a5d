import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GrowthReserve } from '../../components/storage/growth-reserve.js';
import { LmdbStateEnvironment } from '../../state/lmdb-state-environment.js';
import { ScriptedReserve } from '../storage/fixtures/scripted-reserve.js';
import { checkpointed, pollUntil } from './fixtures/state-stores.js';
import { contents, put, z } from './fixtures/writes.js';

/**
 * LmdbStateStore starts a transaction only once disk blocks past lmdb's file cover what it may
 * grow the file by (components/storage/growth-reserve.ts: lmdb-js aborts on a write that fails ENOSPC).
 */
describe('StateStore growth reserve (lmdb)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  function openStore(reserve: GrowthReserve) {
    const path = mkdtempSync(join(tmpdir(), 'zabkv-reserve-store-'));
    const environment = new LmdbStateEnvironment(path, { reserve });
    cleanups.push(async () => {
      await environment.close();
      rmSync(path, { recursive: true, force: true });
    });
    return environment.store(1);
  }

  it('waits for the blocks before the transaction, then commits', async () => {
    const reserve = new ScriptedReserve();
    const store = openStore(reserve);
    store.apply(z(1), put('a', 'one'));
    store.release(z(1));
    expect(reserve.asked).toHaveLength(1);
    const zxid = store.checkpoint();
    reserve.answer(true);
    await pollUntil(store, () => store.durableZxid >= zxid, 'the commit after the reserve');
    expect(store.failure).toBeNull();
    // Held now: the next transaction does not wait (it may top the reserve up meanwhile).
    store.apply(z(2), put('b', 'two'));
    store.release(z(2));
    expect(await checkpointed(store)).toBe(z(2));
  });

  it('reports a failure from elsewhere once the commit under way lands: the reload matches lmdb', async () => {
    // A failure of a snapshot piece or of a growth hold can come while a commit is in flight;
    // reported at once, the reload reverted memory to the state before that commit, which lmdb
    // then took anyway: reads of its keys came from beyond the applied zxid.
    const reserve = new ScriptedReserve();
    reserve.held = 2 ** 30; // the commit starts at the release, without waiting
    const store = openStore(reserve);
    store.apply(z(1), put('a', 'one'));
    store.release(z(1));
    (store as unknown as { fail(error: unknown): void }).fail(new Error('a snapshot piece failed'));
    expect(store.failure).toBeNull(); // the commit of z(1) is under way
    await pollUntil(store, () => store.failure !== null, 'the failure, after the commit');
    store.revertUnreleased();
    expect(store.appliedZxid).toBe(z(1));
    expect(contents(store, ['a'])).toEqual({ a: [z(1), 'one'] });
    store.apply(z(2), put('b', 'two'));
    store.release(z(2));
    expect(await checkpointed(store)).toBe(z(2));
  });

  it('fails the store, writing nothing, when the disk refuses the blocks', async () => {
    const reserve = new ScriptedReserve();
    const store = openStore(reserve);
    store.apply(z(1), put('a', 'one'));
    store.release(z(1));
    reserve.answer(false);
    await pollUntil(store, () => store.failure !== null, 'the failure');
    expect(store.failure).toMatch(/no room for the applied state: the disk refused/);
    expect(store.durableZxid).toBe(0);
    store.revertUnreleased();
  });
});
