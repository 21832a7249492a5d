import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../components/network/node-id.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { mergeParts, type GroupPart, type ListQuery } from '../../frontend/list-pages.js';
import type { KvOperation, KvOutcome } from '../../kv/kv-operation.js';
import type { KvRange } from '../../kv/range.js';
import { PartitionedCluster } from '../../sim/partitioned-cluster.js';
import { compareKeys } from '../../state/write-rules.js';

const bytes = (text: string) => new TextEncoder().encode(text);

interface Write {
  readonly key: string;
  readonly submittedAt: number;
  ackedAt?: number;
  version?: number;
}

/**
 * Listing across 2 groups × 3 replicas while puts keep arriving: pages are merged from one range
 * read per group (frontend/list-pages.ts), each sent to a random node, so reads are served by
 * leaders and by followers through ReadIndex.
 */
describe('listing through the overlay while writes happen, 2 groups × 3 replicas', () => {
  it('pages every key once in order, and each part sees every write acknowledged before it was asked', () => {
    const cluster = new PartitionedCluster(41, 6, 3);
    const random = new SeededRandom(41);
    expect(cluster.sim.runUntil(() => cluster.ready(), 5_000)).toBe(true);
    const anyNode = (): NodeId => cluster.ids[random.int(0, cluster.ids.length - 1)]!;
    const writes: Write[] = [];
    /** Ranges asked at a follower the moment a write was acknowledged, and what they found. */
    const probes: { key: string; acked: number; found: number | undefined }[] = [];
    const probe = (key: string, acked: number): void => {
      const group = cluster.table.groupOfKey(key);
      const follower = group.members.find((id) => id !== cluster.leaderOf(group.id));
      if (follower === undefined) return;
      const range: KvRange = {
        op: 'range',
        group: group.id,
        prefix: key,
        after: null,
        limit: 1,
        maxBytes: 1024,
        keysOnly: true,
        consistency: 'linearizable',
      };
      // Asked of the follower's own replica: served there, after its ReadIndex round.
      cluster.submitUnrecorded(follower, range, (outcome) => {
        const item = outcome?.status === 200 ? outcome.range?.items[0] : undefined;
        probes.push({ key, acked, found: item?.key === key ? item.version : undefined });
      });
    };
    const put = (key: string): void => {
      const write: Write = { key, submittedAt: cluster.sim.now };
      writes.push(write);
      cluster.submitUnrecorded(anyNode(), { op: 'put', key, value: bytes(key) }, (outcome) => {
        if (outcome?.status !== 200) return;
        write.ackedAt = cluster.sim.now;
        write.version = outcome.version;
        probe(key, outcome.version);
      });
    };
    const call = (operation: KvOperation): KvOutcome | undefined => {
      const result: { outcome?: KvOutcome | undefined; done: boolean } = { done: false };
      cluster.submitUnrecorded(anyNode(), operation, (outcome) =>
        Object.assign(result, { outcome, done: true }),
      );
      cluster.sim.runUntil(() => result.done, 10_000);
      return result.outcome;
    };
    const name = (i: number) => `l/${String(i).padStart(3, '0')}`;
    for (let i = 0; i < 80; i += 2) put(name(i));
    expect(cluster.sim.runUntil(() => writes.every((w) => w.ackedAt !== undefined), 10_000)).toBe(
      true,
    );
    const before = new Set(writes.map((w) => w.key));

    const query: ListQuery = {
      prefix: 'l/',
      after: null,
      limit: 7,
      keysOnly: false,
      consistency: 'linearizable',
    };
    const listed: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      // Writes keep arriving: new keys in the gaps and overwrites, a few per page.
      for (let j = 0; j < 3; j++) put(name(random.int(0, 79)));
      const asked = cluster.sim.now;
      const parts: (GroupPart | null)[] = cluster.table.groups.map(() => null);
      cluster.table.groups.forEach((group, index) => {
        const range: KvRange = { op: 'range', group: group.id, ...query, after, maxBytes: 1 << 20 };
        cluster.submitUnrecorded(anyNode(), range, (outcome) => {
          expect(outcome?.status).toBe(200);
          if (outcome?.status !== 200 || outcome.range === undefined) return;
          parts[index] = { group: group.id, zxid: outcome.version, result: outcome.range };
        });
      });
      expect(cluster.sim.runUntil(() => parts.every((p) => p !== null), 10_000)).toBe(true);
      for (const part of parts as GroupPart[]) {
        const items = new Map(part.result.items.map((i) => [i.key, i]));
        const end = part.result.more ? part.result.items.at(-1)!.key : null;
        for (const write of writes) {
          const inPart =
            cluster.table.groupOfKey(write.key).id === part.group &&
            (after === null || compareKeys(write.key, after) > 0) &&
            (end === null || compareKeys(write.key, end) <= 0);
          if (!inPart || write.ackedAt === undefined || write.ackedAt >= asked) continue;
          // Linearizable: a write acknowledged before the read was asked is in it, or a later one.
          expect(items.get(write.key)?.version, write.key).toBeGreaterThanOrEqual(write.version!);
        }
        for (const item of part.result.items) {
          // Nothing but what was written: a version some put of this key was answered with, or
          // one still in flight.
          const known = writes.filter((w) => w.key === item.key);
          expect(known.length, item.key).toBeGreaterThan(0);
          expect(known.some((w) => w.version === item.version || w.version === undefined)).toBe(
            true,
          );
        }
      }
      const merged = mergeParts(1, parts as GroupPart[], { ...query, after });
      listed.push(...merged.items.map((i) => i.key));
      if (merged.lastKey === null) break;
      after = merged.lastKey;
    }
    for (let i = 1; i < listed.length; i++) {
      expect(compareKeys(listed[i - 1]!, listed[i]!)).toBeLessThan(0);
    }
    for (const key of before) expect(listed).toContain(key);
    cluster.sim.runFor(1_000);
    expect(probes.length).toBeGreaterThan(50);
    for (const { key, acked, found } of probes) expect(found, key).toBeGreaterThanOrEqual(acked);

    // A prefix delete, batch by batch per group, while other keys are written.
    for (let j = 0; j < 5; j++) put(`m/${j}`);
    let deleted = 0;
    for (const group of cluster.table.groups) {
      for (;;) {
        const outcome = call({ op: 'deleteRange', group: group.id, prefix: 'l/', limit: 16 });
        expect(outcome?.status).toBe(200);
        const n = outcome?.status === 200 ? (outcome.txn?.results.length ?? 0) : 0;
        deleted += n;
        if (n === 0) break;
      }
    }
    expect(deleted).toBe(
      new Set(writes.filter((w) => w.key.startsWith('l/')).map((w) => w.key)).size,
    );
    for (const group of cluster.table.groups) {
      const outcome = call({ op: 'range', group: group.id, ...query, maxBytes: 1 << 20 });
      expect(outcome?.status === 200 && outcome.range?.items).toEqual([]);
    }
  });
});
