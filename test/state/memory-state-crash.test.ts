import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../components/random/seeded-random.js';
import type { KvWrite } from '../../kv/kv-operation.js';
import type { Zxid } from '../../kv/zxid.js';
import { MemoryStateDisk, MemoryStateStore } from '../../state/memory-state-store.js';
import { del, everything, nextZxid, put, summary } from './fixtures/writes.js';

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);
const KEYS = ['a', 'b', 'c', 'd', 'é', '😀'];

function randomWrite(random: SeededRandom, step: number): KvWrite {
  const key = random.pick(KEYS);
  const roll = random.int(0, 9);
  if (roll < 2) return del(key);
  if (roll === 2) return put(key, `v${step}`, { ifNoneMatch: '*' });
  if (roll === 3) return put(key, `v${step}`, { ifMatch: '*' });
  return put(key, 'x'.repeat(random.int(0, 20)));
}

/**
 * MemoryStateDisk's crash semantics, which the simulator relies on to stand for lmdb's: a crash
 * leaves the flushed state plus a prefix of the released batches, so a restart finds the state
 * of one release at or after durableZxid — never an apply not released, never half a batch.
 */
describe('MemoryStateStore: a crash keeps the flushed state plus a prefix of released batches', () => {
  it('over many seeds and crashes', () => {
    let partial = 0;
    let whole = 0;
    for (const seed of SEEDS) {
      const random = new SeededRandom(seed);
      const disk = new MemoryStateDisk(random.fork('disk'));
      let store = new MemoryStateStore(disk);
      /** What the store held right after each apply (and at 0). */
      const states = new Map<Zxid, unknown>([[0, { ...summary(store), all: everything(store) }]]);
      const releases: Zxid[] = [];
      for (let crash = 0; crash < 4; crash++) {
        for (let step = 0; step < 40; step++) {
          store.apply(nextZxid(store), randomWrite(random, step));
          states.set(store.appliedZxid, { ...summary(store), all: everything(store) });
          if (random.chance(0.3)) {
            const applied = [...states.keys()].filter((zxid) => zxid > (releases.at(-1) ?? 0));
            if (applied.length > 0) {
              const through = random.pick(applied);
              store.release(through);
              releases.push(through);
            }
          }
          if (random.chance(0.1)) store.checkpoint();
          if (random.chance(0.2)) store.poll();
        }
        const durable = store.durableZxid;
        const context = `seed ${seed}, crash ${crash}`;

        store = new MemoryStateStore(disk);

        const recovered = store.appliedZxid;
        expect(recovered, context).toBeGreaterThanOrEqual(durable);
        expect([durable, ...releases], context).toContain(recovered);
        expect({ ...summary(store), all: everything(store) }, context).toEqual(
          states.get(recovered),
        );
        expect(store.durableZxid, context).toBe(durable);
        const lastRelease = releases.at(-1) ?? 0;
        if (recovered === lastRelease) whole++;
        else partial++;
        // The history after the recovered zxid is gone: the log replays from there.
        for (const zxid of [...states.keys()]) if (zxid > recovered) states.delete(zxid);
        while ((releases.at(-1) ?? 0) > recovered) releases.pop();
      }
    }
    // The seeds cover both outcomes of a crash.
    expect(partial).toBeGreaterThan(10);
    expect(whole).toBeGreaterThan(10);
  });

  it('a flushed state survives any crash whole', () => {
    for (const seed of SEEDS.slice(0, 10)) {
      const disk = new MemoryStateDisk(new SeededRandom(seed));
      const store = new MemoryStateStore(disk);
      store.apply(1, put('a', 'one'));
      store.apply(2, put('b', 'two'));
      store.release(2);
      store.checkpoint();
      store.poll();
      store.apply(3, del('a'));
      const recovered = new MemoryStateStore(disk);
      expect(recovered.appliedZxid).toBe(2);
      expect(recovered.durableZxid).toBe(2);
      expect(recovered.size).toBe(2);
    }
  });
});
