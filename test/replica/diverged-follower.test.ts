/**
 * A follower whose committed history is not its group's (peer-fuzz found one: a member
 * impersonated without peer TLS made a leader commit what only it held). It still refuses a
 * TRUNC below what it applied (docs/zab-rules.md R6), registers again a tick later rather than
 * at once, and takes the leader's state in place of its own when the leader sends it, with a
 * count and an error log (sync-plan.ts chooses SNAP for it).
 */
import { describe, expect, it } from 'vitest';
import type { NetMessage } from '../../components/network/network-port.js';
import { nodeId } from '../../components/network/node-id.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import type { StoredImage } from '../../components/storage/index.js';
import { encodeOperation } from '../../kv/kv-operation.js';
import { makeZxid } from '../../kv/zxid.js';
import { ChangeFeed } from '../../replica/change-feed.js';
import type { ClientRequests } from '../../replica/client-requests.js';
import { DurableState } from '../../replica/durable-state.js';
import { FollowerSession } from '../../replica/follower.js';
import { encodeLogEntry } from '../../replica/log-entry.js';
import { DEFAULT_REPLICA_TIMING } from '../../replica/replica-config.js';
import type { RoleContext, RoleHost } from '../../replica/role-context.js';
import { MemoryStateDisk, MemoryStateStore } from '../../state/memory-state-store.js';
import { encodePiece } from '../../state/snapshot-pieces.js';

const [n1, n2, n3] = [nodeId(1), nodeId(2), nodeId(3)];
const GROUP = 7;
const z = makeZxid;

/** Node 1's replica, having applied (1,1)..(1,5) as committed, in epoch 1. */
function replicaAtCommitted(): { context: RoleContext; host: RecordingHost } {
  const init = {
    ...DEFAULT_REPLICA_TIMING,
    group: GROUP,
    self: n1,
    members: [n1, n2, n3],
    random: new SeededRandom(1),
    state: new MemoryStateStore(new MemoryStateDisk(new SeededRandom(2))),
  };
  const log = [1, 2, 3, 4, 5].map((counter) => ({
    zxid: z(1, counter),
    payload: encodeLogEntry(
      null,
      encodeOperation({ op: 'put', key: `k${counter}`, value: new Uint8Array([counter]) }),
    ),
  }));
  const image: StoredImage = {
    acceptedEpoch: 1,
    currentEpoch: 1,
    voter: true,
    snapshot: null,
    log,
    damage: 'none',
  };
  const feed = new ChangeFeed(GROUP, n1, undefined, () => {});
  const durable = new DurableState(init, () => {}, feed);
  durable.load(image);
  durable.commitThrough(z(1, 5), () => {});
  const host = new RecordingHost();
  const context: RoleContext = {
    config: init,
    durable,
    requests: {} as ClientRequests,
    replica: host,
  };
  return { context, host };
}

class RecordingHost implements RoleHost {
  readonly sent: NetMessage[] = [];
  readonly refusals: string[] = [];
  readonly lookedAgain: { reason: string; refused: boolean }[] = [];
  readonly diverged: Record<string, unknown>[] = [];
  private session = 0;

  send(message: NetMessage): void {
    this.sent.push(message);
  }
  closeSession(): void {}
  lookForLeader(reason: string, refused = false): void {
    this.lookedAgain.push({ reason, refused });
  }
  established(): void {}
  acknowledging(): void {}
  requestBurstEnd(): void {}
  requestStatePoll(): void {}
  requestFlush(): void {}
  commitThrough(): void {}
  nextSessionId(): number {
    return ++this.session;
  }
  isQuorum(count: number): boolean {
    return count >= 2;
  }
  isVoter(): boolean {
    return true;
  }
  logDebug(): void {}
  logWarn(): void {}
  logError(): void {}
  historyDiverged(fields: Record<string, unknown>): void {
    this.diverged.push(fields);
  }
  rejectPeer(reason: string, fields: Record<string, unknown>): void {
    this.refusals.push(`${reason}: ${String(fields['why'])}`);
  }

  kinds(): string[] {
    return this.sent.map((message) => message.kind);
  }
}

/** Leader n2's session messages to `follower`, numbered as they go. */
function fromLeader(follower: FollowerSession) {
  let seq = 0;
  const base = () => ({ src: n2, dst: n1, group: GROUP, session: follower.session, seq: seq++ });
  return {
    leaderInfo: (epoch: number) => follower.onMessage({ kind: 'zab.LeaderInfo', ...base(), epoch }),
    trunc: (zxid: number) => follower.onMessage({ kind: 'zab.Trunc', ...base(), zxid }),
    snap: (zxid: number, piece: number, data: Uint8Array) =>
      follower.onMessage({ kind: 'zab.Snap', ...base(), zxid, piece, last: true, data }),
  };
}

describe('a follower that committed beyond the group’s history', () => {
  it('tells its commit point in ACKEPOCH and still refuses a TRUNC below it', () => {
    const { context, host } = replicaAtCommitted();
    const follower = new FollowerSession(context, n2, true);
    expect(host.kinds()).toEqual(['zab.FollowerInfo']);
    const leader = fromLeader(follower);
    leader.leaderInfo(1); // the epoch it already accepted: ACKEPOCH at once
    expect(host.sent.at(-1)).toMatchObject({
      kind: 'zab.AckEpoch',
      lastZxid: z(1, 5),
      committed: z(1, 5),
    });
    leader.trunc(z(1, 3));
    expect(host.refusals).toEqual(['impossible-zxid: TRUNC to 1.3, below the commit point']);
    expect(host.lookedAgain).toEqual([
      { reason: 'TRUNC to 1.3, below the commit point', refused: true },
    ]);
    expect(context.durable.committed).toBe(z(1, 5));
  });

  it('after a refusal, registers at the next tick, not in the same breath', () => {
    const { context, host } = replicaAtCommitted();
    const follower = new FollowerSession(context, n2, false);
    expect(host.sent).toEqual([]);
    follower.onTick();
    expect(host.kinds()).toEqual(['zab.FollowerInfo']);
  });

  /** A leader of epoch 2 starts a SNAP sync at `zxid` with one piece (k1 only). */
  function snapshotFromLeader(zxid: number): RecordingHost {
    const { context, host } = replicaAtCommitted();
    const leader = fromLeader(new FollowerSession(context, n2, true));
    leader.leaderInfo(2);
    leader.snap(
      zxid,
      0,
      encodePiece([{ key: 'k1', version: z(1, 1), value: new Uint8Array([1]) }]),
    );
    return host;
  }

  it('takes a snapshot older than what it applied, counting the divergence', () => {
    const host = snapshotFromLeader(z(1, 3));
    expect(host.refusals).toEqual([]);
    expect(host.lookedAgain).toEqual([]);
    expect(host.diverged).toEqual([{ leader: n2, committed: '1.5', snapshot: '1.3' }]);
  });

  it('takes a snapshot at or above what it applied as any SNAP sync, without a count', () => {
    const host = snapshotFromLeader(z(1, 9));
    expect(host.refusals).toEqual([]);
    expect(host.diverged).toEqual([]);
  });
});
