import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LmdbStateEnvironment } from '../../state/lmdb-state-environment.js';
import type { CommitPacing } from '../../state/lmdb-state-store.js';
import { checkpointed } from './fixtures/state-stores.js';
import { contents, put, z } from './fixtures/writes.js';

/**
 * LmdbStateStore starts a transaction at most once per interval, unless what waits fills a
 * batch in changes or in bytes (state/lmdb-state-store.ts, commitNext). The interval here is an
 * hour: only a full batch can start the transaction these tests wait for.
 */
describe('StateStore commit pacing (lmdb)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  function openStore(pacing: Omit<CommitPacing, 'intervalMs'>) {
    const path = mkdtempSync(join(tmpdir(), 'zabkv-pacing-'));
    const environment = new LmdbStateEnvironment(path, {
      pacing: { intervalMs: 3_600_000, ...pacing },
    });
    cleanups.push(async () => {
      await environment.close();
      rmSync(path, { recursive: true, force: true });
    });
    const store = environment.store(1);
    // The first transaction starts at once; from then on the next waits for the hour.
    store.apply(z(1), put('first', 'one'));
    store.release(z(1));
    return store;
  }

  it('starts a transaction once enough bytes wait, before the interval', async () => {
    const store = openStore({ batchChanges: 1_000, batchBytes: 256 * 1024 });
    await checkpointed(store);
    const value = new Uint8Array(64 * 1024).fill(7);
    for (let counter = 2; counter <= 5; counter++) {
      store.apply(z(counter), put(`big-${counter}`, value));
      store.release(z(counter));
    }
    expect(await checkpointed(store)).toBe(z(5));
    expect(store.failure).toBeNull();
  });

  it('starts a transaction once enough changes wait, before the interval', async () => {
    const store = openStore({ batchChanges: 10, batchBytes: 2 ** 30 });
    await checkpointed(store);
    for (let counter = 2; counter <= 11; counter++) {
      store.apply(z(counter), put(`key-${counter}`, 'small'));
      store.release(z(counter));
    }
    expect(await checkpointed(store)).toBe(z(11));
    expect(contents(store, ['key-2', 'key-11'])).toEqual({
      'key-2': [z(2), 'small'],
      'key-11': [z(11), 'small'],
    });
  });
});
