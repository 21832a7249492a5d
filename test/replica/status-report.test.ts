import { MemoryStateDisk, MemoryStateStore } from '../../state/memory-state-store.js';
import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import type { StorageWrite, StoredImage } from '../../components/storage/index.js';
import { encodeOperation } from '../../kv/kv-operation.js';
import { makeZxid } from '../../kv/zxid.js';
import { ChangeFeed } from '../../replica/change-feed.js';
import { DurableState } from '../../replica/durable-state.js';
import { encodeLogEntry } from '../../replica/log-entry.js';
import { DEFAULT_REPLICA_TIMING } from '../../replica/replica-config.js';
import type { FollowerStatus, ReplicaStatus } from '../../replica/replica-status-port.js';
import { StatusReport } from '../../replica/status-report.js';

const [n1, n2, n3] = [nodeId(1), nodeId(2), nodeId(3)];
const empty: StoredImage = {
  acceptedEpoch: 0,
  currentEpoch: 0,
  voter: true,
  snapshot: null,
  log: [],
  damage: 'none',
};

function durableState(): { durable: DurableState; writes: StorageWrite[] } {
  const writes: StorageWrite[] = [];
  const init = {
    ...DEFAULT_REPLICA_TIMING,
    group: 7,
    self: n1,
    members: [n1, n2, n3],
    random: new SeededRandom(1),
    state: new MemoryStateStore(new MemoryStateDisk(new SeededRandom(2))),
  };
  const feed = new ChangeFeed(init.group, init.self, undefined, () => {});
  const durable = new DurableState(init, (write) => writes.push(write), feed);
  durable.load(empty);
  return { durable, writes };
}

type Role = Parameters<StatusReport['next']>[1];
const looking: Role = {
  role: 'looking',
  serving: false,
  leader: null,
  pendingProposals: 0,
  followers: [],
  rejected: {},
  divergences: 0,
};
const follower = (node: number, ackedZxid: number, synced = true): FollowerStatus => ({
  node: nodeId(node),
  synced,
  ackedZxid,
});

describe('StatusReport', () => {
  it('reports everything the first time, then only changes', () => {
    const { durable } = durableState();
    const report = new StatusReport(7, n1, 1000);
    expect(report.next(durable, looking)).toEqual<ReplicaStatus>({
      kind: 'ReplicaStatus',
      group: 7,
      node: n1,
      ...looking,
      acceptedEpoch: 0,
      currentEpoch: 0,
      lastZxid: 0,
      committedZxid: 0,
      appliedZxid: 0,
      dbBytes: 0,
      quotaBytes: 1000,
    });
    expect(report.next(durable, looking)).toBeNull();
    expect(report.next(durable, { ...looking, followers: [] })).toBeNull();
  });

  it('reports again when any role field changes', () => {
    const { durable } = durableState();
    const report = new StatusReport(7, n1, 1000);
    const leading: Role = { ...looking, role: 'leading' };
    const changes: Role[] = [
      leading,
      { ...leading, serving: true },
      { ...leading, serving: true, leader: n1 },
      { ...leading, serving: true, leader: n1, pendingProposals: 3 },
      {
        ...leading,
        serving: true,
        leader: n1,
        pendingProposals: 3,
        rejected: { 'not-a-member': 1 },
      },
    ];
    expect(report.next(durable, looking)).not.toBeNull();
    for (const role of changes) {
      expect(report.next(durable, role)).toMatchObject(role);
      expect(report.next(durable, role)).toBeNull();
    }
  });

  it('reports again when a follower joins, syncs or acknowledges more', () => {
    const { durable } = durableState();
    const report = new StatusReport(7, n1, 1000);
    const leading = (followers: FollowerStatus[]): Role => ({
      ...looking,
      role: 'leading',
      serving: true,
      leader: n1,
      followers,
    });
    const steps = [
      [follower(2, 0, false)],
      [follower(2, 0)],
      [follower(2, 0), follower(3, 0)],
      [follower(2, 5), follower(3, 0)],
      [follower(2, 5), follower(3, 5)],
      [follower(3, 5)],
    ];
    for (const followers of steps) {
      expect(report.next(durable, leading(followers))?.followers).toEqual(followers);
      // An equal list, built anew, is no change.
      expect(report.next(durable, leading(followers.map((f) => ({ ...f }))))).toBeNull();
    }
  });

  it('reports again when the durable state moves', () => {
    const { durable, writes } = durableState();
    const report = new StatusReport(7, n1, 1000);
    const seen = (): ReplicaStatus | null => report.next(durable, looking);
    expect(seen()).not.toBeNull();

    const accepted = durable.acceptEpoch(1);
    expect(seen()).toBeNull(); // not in effect until durable
    durable.onDurable(accepted);
    expect(seen()).toMatchObject({ acceptedEpoch: 1, currentEpoch: 0 });
    durable.onDurable(durable.adoptEpoch(1));
    expect(seen()).toMatchObject({ acceptedEpoch: 1, currentEpoch: 1 });
    expect(seen()).toBeNull();

    const put = encodeOperation({ op: 'put', key: 'k', value: new Uint8Array([1]) });
    const zxid = makeZxid(1, 1);
    durable.append([{ zxid, payload: encodeLogEntry({ node: n2, requestId: 9 }, put) }]);
    expect(seen()).toMatchObject({ lastZxid: zxid, committedZxid: 0, appliedZxid: 0 });
    const applied: unknown[] = [];
    durable.commitThrough(zxid, (entry) => applied.push(entry.origin));
    expect(applied).toEqual([{ node: n2, requestId: 9 }]);
    expect(seen()).toMatchObject({
      lastZxid: zxid,
      committedZxid: zxid,
      appliedZxid: zxid,
      dbBytes: 2, // key 'k' and one value byte
    });
    expect(seen()).toBeNull();
    expect(writes.map((w) => w.kind)).toEqual(['SetAcceptedEpoch', 'SetCurrentEpoch', 'Append']);
  });
});
