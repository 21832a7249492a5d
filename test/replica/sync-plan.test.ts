import { describe, expect, it } from 'vitest';
import type { StoredEntry } from '../../components/storage/index.js';
import { ReplicaLog } from '../../replica/replica-log.js';
import { planSync, type FollowerHistory } from '../../replica/sync-plan.js';
import { makeZxid } from '../../kv/zxid.js';

const z = makeZxid;

/** Entries (epoch, from)..(epoch, to). */
function run(epoch: number, from: number, to: number): StoredEntry[] {
  const out: StoredEntry[] = [];
  for (let c = from; c <= to; c++) out.push({ zxid: z(epoch, c), payload: new Uint8Array([c]) });
  return out;
}

/** A follower's history as the leader learns it (nothing committed unless said). */
function follower(base: number | null, entries: StoredEntry[], committed = 0): FollowerHistory {
  const log = new ReplicaLog(base, entries);
  return { lastZxid: log.last, epochEnds: log.epochEnds(), committed };
}

describe('planSync: DIFF', () => {
  const leader = new ReplicaLog(0, [...run(1, 1, 5), ...run(2, 1, 3)]);

  it('diffs from the follower’s last zxid when the leader holds it', () => {
    expect(planSync(leader, follower(0, run(1, 1, 3)))).toEqual({ kind: 'diff', from: z(1, 3) });
    expect(planSync(leader, follower(0, run(1, 1, 5)))).toEqual({ kind: 'diff', from: z(1, 5) });
    expect(planSync(leader, follower(0, [...run(1, 1, 5), ...run(2, 1, 1)]))).toEqual({
      kind: 'diff',
      from: z(2, 1),
    });
  });

  it('diffs with nothing to send when the follower is up to date', () => {
    expect(
      planSync(leader, { lastZxid: leader.last, epochEnds: leader.epochEnds(), committed: 0 }),
    ).toEqual({
      kind: 'diff',
      from: z(2, 3),
    });
  });

  it('diffs from 0 for an empty follower when the leader’s log starts at the beginning', () => {
    expect(planSync(leader, { lastZxid: 0, epochEnds: [], committed: 0 })).toEqual({
      kind: 'diff',
      from: 0,
    });
    expect(planSync(leader, follower(0, []))).toEqual({ kind: 'diff', from: 0 });
  });

  it('diffs from the leader’s base (snapshot point)', () => {
    const compacted = new ReplicaLog(z(1, 3), [...run(1, 4, 5), ...run(2, 1, 3)]);
    expect(planSync(compacted, follower(0, run(1, 1, 3)))).toEqual({
      kind: 'diff',
      from: z(1, 3),
    });
    const snappedOnly = new ReplicaLog(z(2, 3), []);
    expect(planSync(snappedOnly, follower(0, [...run(1, 1, 5), ...run(2, 1, 3)]))).toEqual({
      kind: 'diff',
      from: z(2, 3),
    });
  });
});

describe('planSync: TRUNC to the longest common prefix', () => {
  it('ZOOKEEPER-1154: an uncommitted (1,74) truncates to (1,73), not further', () => {
    const leader = new ReplicaLog(0, [...run(1, 1, 73), ...run(2, 1, 4)]);
    const history = follower(0, run(1, 1, 74));
    expect(history.lastZxid).toBe(z(1, 74));
    expect(history.epochEnds).toEqual([z(1, 74)]);
    expect(planSync(leader, history)).toEqual({ kind: 'trunc', to: z(1, 73) });
  });

  it('ZOOKEEPER-1154 with a compacted leader log: the common point is still in the log', () => {
    const leader = new ReplicaLog(z(1, 70), [...run(1, 71, 73), ...run(2, 1, 4)]);
    expect(planSync(leader, follower(0, run(1, 1, 74)))).toEqual({
      kind: 'trunc',
      to: z(1, 73),
    });
  });

  it('follower’s extra txns span a later epoch the leader never saw', () => {
    // Epoch 2's leader logged (2,1),(2,2) on this follower only; epoch 3 never saw them.
    const leader = new ReplicaLog(0, [...run(1, 1, 5), ...run(3, 1, 2)]);
    const history = follower(0, [...run(1, 1, 5), ...run(2, 1, 2)]);
    expect(history.epochEnds).toEqual([z(1, 5), z(2, 2)]);
    expect(planSync(leader, history)).toEqual({ kind: 'trunc', to: z(1, 5) });
  });

  it('follower has both uncommitted txns at the end of an epoch and a stray later epoch', () => {
    const leader = new ReplicaLog(0, [...run(1, 1, 5), ...run(3, 1, 2)]);
    const history = follower(0, [...run(1, 1, 7), ...run(2, 1, 1)]);
    expect(planSync(leader, history)).toEqual({ kind: 'trunc', to: z(1, 5) });
  });

  it('follower behind in one epoch with a stray later epoch truncates to its own point', () => {
    // The follower missed (1,6)..(1,8) and then logged a stray epoch 2.
    const leader = new ReplicaLog(0, [...run(1, 1, 8), ...run(3, 1, 2)]);
    const history = follower(0, [...run(1, 1, 5), ...run(2, 1, 3)]);
    expect(history.epochEnds).toEqual([z(1, 5), z(2, 3)]);
    expect(planSync(leader, history)).toEqual({ kind: 'trunc', to: z(1, 5) });
  });

  it('a stray epoch newer than any the leader has logged in is skipped, not matched', () => {
    // Epoch 4's leader reached only this follower; the new leader (epoch 5) has logged
    // nothing yet, so its history ends at (3,1), which the follower never had.
    const leader = new ReplicaLog(0, [...run(1, 1, 5), ...run(3, 1, 1)]);
    const history = follower(0, [...run(1, 1, 5), ...run(4, 1, 2)]);
    expect(planSync(leader, history)).toEqual({ kind: 'trunc', to: z(1, 5) });
  });

  it('picks the newest shared epoch, not an older one', () => {
    // Both hold epochs 1 and 3; the follower ends with a stray epoch 4, the leader with 5.
    const leader = new ReplicaLog(0, [...run(1, 1, 3), ...run(3, 1, 6), ...run(5, 1, 1)]);
    const history = follower(0, [...run(1, 1, 3), ...run(3, 1, 4), ...run(4, 1, 2)]);
    expect(planSync(leader, history)).toEqual({ kind: 'trunc', to: z(3, 4) });
    const history2 = follower(0, [...run(1, 1, 3), ...run(3, 1, 8)]);
    expect(planSync(leader, history2)).toEqual({ kind: 'trunc', to: z(3, 6) });
  });

  it('truncates to 0 when nothing but the empty history is shared', () => {
    const leader = new ReplicaLog(0, [...run(1, 1, 3), ...run(3, 1, 1)]);
    const history = follower(0, run(2, 1, 2));
    expect(planSync(leader, history)).toEqual({ kind: 'trunc', to: 0 });
  });

  it('truncates to the leader’s base when that is the common point', () => {
    const leader = new ReplicaLog(z(1, 6), run(3, 1, 2));
    const history = follower(0, [...run(1, 1, 6), ...run(2, 1, 1)]);
    expect(planSync(leader, history)).toEqual({ kind: 'trunc', to: z(1, 6) });
  });

  it('a follower that itself restarted from a snapshot is matched through its base', () => {
    const leader = new ReplicaLog(0, [...run(1, 1, 9), ...run(3, 1, 2)]);
    const history = follower(z(1, 4), [...run(1, 5, 6), ...run(2, 1, 1)]);
    expect(planSync(leader, history)).toEqual({ kind: 'trunc', to: z(1, 6) });
  });
});

describe('planSync: SNAP', () => {
  it('when the common point has been compacted away', () => {
    const leader = new ReplicaLog(z(1, 6), [...run(1, 7, 8), ...run(3, 1, 2)]);
    const history = follower(0, [...run(1, 1, 4), ...run(2, 1, 1)]);
    expect(planSync(leader, history)).toEqual({ kind: 'snap' });
  });

  it('when a follower behind the leader’s base has nothing to truncate', () => {
    const leader = new ReplicaLog(z(1, 6), [...run(1, 7, 8), ...run(3, 1, 2)]);
    expect(planSync(leader, follower(0, run(1, 1, 4)))).toEqual({ kind: 'snap' });
  });

  it('for an empty follower when the leader’s log does not start at 0', () => {
    const leader = new ReplicaLog(z(2, 9), run(2, 10, 12));
    expect(planSync(leader, { lastZxid: 0, epochEnds: [], committed: 0 })).toEqual({
      kind: 'snap',
    });
  });

  it('when the leader has no knowledge of the follower’s epochs', () => {
    const leader = new ReplicaLog(z(3, 4), run(3, 5, 6));
    const history = follower(0, [...run(1, 1, 5), ...run(2, 1, 1)]);
    expect(planSync(leader, history)).toEqual({ kind: 'snap' });
  });

  it('when the leader lost its log start and the shared epoch is compacted', () => {
    const leader = new ReplicaLog(null, [...run(2, 5, 6), ...run(4, 1, 1)]);
    const history = follower(0, [...run(2, 1, 3), ...run(3, 1, 1)]);
    expect(planSync(leader, history)).toEqual({ kind: 'snap' });
  });
});

describe('planSync: a follower that committed beyond the common prefix (diverged)', () => {
  const leader = new ReplicaLog(0, [...run(1, 1, 44), ...run(2, 1, 3)]);

  it('gets the state, never a TRUNC below what it applied', () => {
    expect(planSync(leader, follower(0, run(1, 1, 200), z(1, 200)))).toEqual({
      kind: 'snap',
      divergedAt: z(1, 44),
    });
    expect(planSync(leader, follower(0, run(1, 1, 200), z(1, 45)))).toEqual({
      kind: 'snap',
      divergedAt: z(1, 44),
    });
  });

  it('is truncated as before when what it committed is in the common prefix', () => {
    expect(planSync(leader, follower(0, run(1, 1, 200), z(1, 44)))).toEqual({
      kind: 'trunc',
      to: z(1, 44),
    });
  });

  it('is diffed as before when its history is a prefix of the leader’s', () => {
    expect(planSync(leader, follower(0, run(1, 1, 40), z(1, 40)))).toEqual({
      kind: 'diff',
      from: z(1, 40),
    });
  });
});
