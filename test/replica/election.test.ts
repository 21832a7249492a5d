import { describe, expect, it } from 'vitest';
import { nodeId, type NodeId } from '../../components/network/node-id.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import {
  FastLeaderElection,
  beats,
  type ElectionHost,
  type Notification,
  type PeerState,
  type Vote,
} from '../../replica/election.js';
import { FOLLOWING, LEADING, LOOKING } from '../../replica/zab-messages.js';
import { makeZxid } from '../../kv/zxid.js';

const z = makeZxid;
const id = nodeId;

type HostEvent =
  | { readonly kind: 'broadcast'; readonly vote: Vote; readonly round: number }
  | { readonly kind: 'reply'; readonly to: NodeId; readonly vote: Vote; readonly round: number }
  | { readonly kind: 'startWait' }
  | { readonly kind: 'cancelWait' }
  | { readonly kind: 'decide'; readonly vote: Vote; readonly round: number };

/** A recording ElectionHost: the group is `members`, a quorum is a strict majority of it. */
class FakeHost implements ElectionHost {
  readonly events: HostEvent[] = [];
  waiting = false;
  voter = true;
  readonly self: NodeId;
  private readonly members: Set<NodeId>;

  constructor(self: number, members: readonly number[]) {
    this.self = id(self);
    this.members = new Set(members.map(id));
  }

  selfIsVoter(): boolean {
    return this.voter;
  }
  isQuorum(count: number): boolean {
    return count * 2 > this.members.size;
  }
  isVoter(node: NodeId): boolean {
    return this.members.has(node);
  }
  broadcast(vote: Vote, round: number): void {
    this.events.push({ kind: 'broadcast', vote, round });
  }
  reply(to: NodeId, vote: Vote, round: number): void {
    this.events.push({ kind: 'reply', to, vote, round });
  }
  startFinalizeWait(): void {
    expect(this.waiting, 'finalize wait started twice').toBe(false);
    this.waiting = true;
    this.events.push({ kind: 'startWait' });
  }
  cancelFinalizeWait(): void {
    this.waiting = false;
    this.events.push({ kind: 'cancelWait' });
  }
  decide(vote: Vote, round: number): void {
    this.events.push({ kind: 'decide', vote, round });
  }

  of<K extends HostEvent['kind']>(kind: K): Extract<HostEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<HostEvent, { kind: K }> => e.kind === kind);
  }
  clear(): void {
    this.events.length = 0;
  }
}

function vote(leader: number, zxid: number, peerEpoch: number, spaceLow = false): Vote {
  return { leader: id(leader), zxid, peerEpoch, spaceLow };
}

function note(
  from: number,
  v: Vote,
  round: number,
  state: PeerState = LOOKING,
  voter = true,
): Notification {
  return { ...v, from: id(from), round, state, voter };
}

function node(self: number, members: readonly number[]): [FastLeaderElection, FakeHost] {
  const host = new FakeHost(self, members);
  return [new FastLeaderElection(host), host];
}

describe('beats', () => {
  it('orders equal histories by room on the disk before the id, never a longer one below', () => {
    const low = vote(3, z(1, 9), 1, true);
    expect(beats(vote(1, z(1, 9), 1), low)).toBe(true);
    expect(beats(low, vote(1, z(1, 9), 1))).toBe(false);
    expect(beats(vote(1, z(1, 8), 1), low)).toBe(false);
    expect(beats(vote(1, z(1, 9), 0), low)).toBe(false);
  });

  it('orders by peerEpoch first', () => {
    const newerEpoch = vote(1, z(1, 3), 2);
    const longerLog = vote(3, z(1, 9), 1);
    expect(beats(newerEpoch, longerLog)).toBe(true);
    expect(beats(longerLog, newerEpoch)).toBe(false);
  });

  it('then by zxid', () => {
    const more = vote(1, z(2, 5), 2);
    const fewer = vote(3, z(2, 4), 2);
    expect(beats(more, fewer)).toBe(true);
    expect(beats(fewer, more)).toBe(false);
    // A later epoch in the zxid beats a longer older epoch.
    expect(beats(vote(1, z(2, 1), 2), vote(3, z(1, 99), 2))).toBe(true);
  });

  it('then by id', () => {
    expect(beats(vote(3, z(1, 4), 1), vote(2, z(1, 4), 1))).toBe(true);
    expect(beats(vote(2, z(1, 4), 1), vote(3, z(1, 4), 1))).toBe(false);
  });

  it('is irreflexive', () => {
    const v = vote(2, z(1, 4), 1);
    expect(beats(v, { ...v })).toBe(false);
  });

  it('is the strict lexicographic order on (peerEpoch, zxid, id) over a seeded sample', () => {
    const random = new SeededRandom(99);
    const votes: Vote[] = [];
    for (let i = 0; i < 120; i++) {
      const epoch = random.int(0, 3);
      votes.push(vote(random.int(0, 4), z(random.int(0, epoch), random.int(0, 3)), epoch));
    }
    const key = (v: Vote): [number, number, number] => [v.peerEpoch, v.zxid, v.leader];
    const compare = (a: Vote, b: Vote): number => {
      const [ka, kb] = [key(a), key(b)];
      for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return Math.sign(ka[i]! - kb[i]!);
      return 0;
    };
    for (const a of votes) {
      for (const b of votes) {
        expect(beats(a, b)).toBe(compare(a, b) > 0);
      }
    }
  });
});

describe('FastLeaderElection: three nodes converge', () => {
  const members = [1, 2, 3];
  const initial: Record<number, Vote> = {
    1: vote(1, z(1, 5), 1),
    2: vote(2, z(1, 9), 1), // the best: the longest log
    3: vote(3, z(1, 7), 1),
  };

  /** Three nodes wired through a FIFO queue: broadcasts and replies become notifications. */
  function cluster(): {
    nodes: Map<number, [FastLeaderElection, FakeHost]>;
    deliverAll: () => number;
  } {
    const nodes = new Map(members.map((m) => [m, node(m, members)] as const));
    const queue: { to: number; n: Notification }[] = [];
    const delivered = new Map<number, number>(members.map((m) => [m, 0]));
    const pump = (): void => {
      for (const [self, [, host]] of nodes) {
        const events = host.events.slice(delivered.get(self));
        delivered.set(self, host.events.length);
        for (const e of events) {
          if (e.kind === 'broadcast') {
            for (const to of members) {
              if (to !== self) queue.push({ to, n: note(self, e.vote, e.round) });
            }
          } else if (e.kind === 'reply') {
            queue.push({ to: e.to, n: note(self, e.vote, e.round) });
          }
        }
      }
    };
    const deliverAll = (): number => {
      let count = 0;
      pump();
      while (queue.length > 0) {
        const { to, n } = queue.shift()!;
        nodes.get(to)![0].onNotification(n);
        count++;
        pump();
        expect(count).toBeLessThan(1000);
      }
      return count;
    };
    return { nodes, deliverAll };
  }

  it('agree on the best vote and decide only after the finalize wait', () => {
    const { nodes, deliverAll } = cluster();
    for (const [self, [election]] of nodes) election.start(initial[self]!);
    expect(deliverAll()).toBeGreaterThan(0);

    for (const [, [election, host]] of nodes) {
      expect(election.currentProposal).toEqual(initial[2]);
      expect(election.round).toBe(1);
      expect(host.of('decide')).toEqual([]);
      expect(host.waiting).toBe(true);
    }
    for (const [, [election, host]] of nodes) {
      election.onFinalizeWaitOver();
      expect(host.of('decide')).toEqual([{ kind: 'decide', vote: initial[2], round: 1 }]);
      expect(election.currentProposal).toBeNull();
    }
  });

  it('a finalize wait that ends before a quorum agrees decides nothing', () => {
    const { nodes } = cluster();
    const [election, host] = nodes.get(1)!;
    election.start(initial[1]!);
    expect(host.of('startWait')).toEqual([]);
    election.onFinalizeWaitOver();
    expect(host.of('decide')).toEqual([]);
    expect(election.currentProposal).toEqual(initial[1]);
  });

  it('a better vote during the finalize wait cancels it and moves the proposal', () => {
    const [election, host] = node(1, members);
    election.start(initial[1]!);
    election.onNotification(note(3, initial[3]!, 1));
    // Node 3's vote beats node 1's; with node 3 they are a quorum for it.
    expect(election.currentProposal).toEqual(initial[3]);
    expect(host.of('broadcast').at(-1)).toEqual({ kind: 'broadcast', vote: initial[3], round: 1 });
    expect(host.of('startWait')).toHaveLength(1);

    election.onNotification(note(2, initial[2]!, 1));
    expect(election.currentProposal).toEqual(initial[2]);
    expect(host.events.slice(-3).map((e) => e.kind)).toEqual([
      'cancelWait',
      'broadcast',
      'startWait',
    ]);
    expect(host.of('decide')).toEqual([]);
    election.onFinalizeWaitOver();
    expect(host.of('decide')).toEqual([{ kind: 'decide', vote: initial[2], round: 1 }]);
  });

  it('a worse vote in the same round is counted but changes nothing', () => {
    const [election, host] = node(1, members);
    election.start(initial[2]!); // pretend node 1 starts with the best vote
    host.clear();
    election.onNotification(note(3, initial[3]!, 1));
    expect(election.currentProposal).toEqual(initial[2]);
    expect(host.events).toEqual([]);
    // Node 3 then comes round: now a quorum.
    election.onNotification(note(3, initial[2]!, 1));
    expect(host.of('startWait')).toHaveLength(1);
    expect(host.of('broadcast')).toEqual([]);
  });

  it('ignores notifications after it decided', () => {
    const [election, host] = node(1, [1]);
    election.start(initial[1]!);
    election.onFinalizeWaitOver();
    expect(host.of('decide')).toEqual([{ kind: 'decide', vote: initial[1], round: 1 }]);
    host.clear();
    election.onNotification(note(2, initial[2]!, 5));
    election.resend();
    expect(host.events).toEqual([]);
  });
});

describe('FastLeaderElection: rounds', () => {
  const members = [1, 2, 3, 4, 5];
  const A = vote(1, z(1, 8), 1); // node 1's own initial vote
  const B = vote(3, z(1, 9), 1); // better than A
  const worse = vote(2, z(1, 7), 1); // worse than A
  const better = vote(2, z(1, 10), 1); // better than A and B

  /** Node 1 in round 1, having adopted B from nodes 3 and 4 and started its finalize wait. */
  function adoptedB(): [FastLeaderElection, FakeHost] {
    const [election, host] = node(1, members);
    election.start(A);
    election.onNotification(note(3, B, 1));
    election.onNotification(note(4, B, 1));
    expect(election.currentProposal).toEqual(B);
    expect(host.waiting).toBe(true);
    host.clear();
    return [election, host];
  }

  it('a higher round resets to the own initial vote when that beats the notification', () => {
    const [election, host] = adoptedB();
    election.onNotification(note(2, worse, 3));
    expect(election.round).toBe(3);
    // Not B (a vote of the old round), not the worse notification: the initial vote.
    expect(election.currentProposal).toEqual(A);
    expect(host.events).toEqual([{ kind: 'cancelWait' }, { kind: 'broadcast', vote: A, round: 3 }]);
    expect(host.waiting).toBe(false);
  });

  it('a higher round adopts the notification when it beats the own initial vote', () => {
    const [election, host] = adoptedB();
    election.onNotification(note(2, better, 4));
    expect(election.round).toBe(4);
    expect(election.currentProposal).toEqual(better);
    expect(host.of('broadcast')).toEqual([{ kind: 'broadcast', vote: better, round: 4 }]);
  });

  it('a higher round that adopts a vote weaker than the old proposal still resets to it', () => {
    // Between A and B: the old round's B must not survive the reset.
    const middle = vote(5, z(1, 8), 1);
    expect(beats(middle, A) && beats(B, middle)).toBe(true);
    const [election] = adoptedB();
    election.onNotification(note(5, middle, 2));
    expect(election.currentProposal).toEqual(middle);
  });

  it('a higher round resets the received set: old-round votes no longer count', () => {
    const [election, host] = adoptedB();
    election.onNotification(note(2, worse, 3)); // proposal A in round 3
    // Node 5 votes B in round 3: B beats A, adopted. Only node 5 and this node hold B in
    // round 3 (nodes 3 and 4 voted B in round 1): no quorum of 3 yet.
    election.onNotification(note(5, B, 3));
    expect(election.currentProposal).toEqual(B);
    expect(host.waiting).toBe(false);
    expect(host.of('startWait')).toEqual([]);
    // Node 3 repeats its vote in round 3: now a quorum.
    election.onNotification(note(3, B, 3));
    expect(host.waiting).toBe(true);
    election.onFinalizeWaitOver();
    expect(host.of('decide')).toEqual([{ kind: 'decide', vote: B, round: 3 }]);
  });

  it('a lower-round notification is answered with the current vote and not counted', () => {
    const members3 = [1, 2, 3];
    const [election, host] = node(1, members3);
    election.start(A);
    election.start(A); // round 2
    expect(election.round).toBe(2);
    host.clear();
    // Node 2 agrees with A but from round 1: if it counted, node 1 + node 2 would be a quorum.
    election.onNotification(note(2, A, 1));
    expect(host.events).toEqual([{ kind: 'reply', to: id(2), vote: A, round: 2 }]);
    expect(host.waiting).toBe(false);
    // A better vote from an older round does not move the proposal either.
    election.onNotification(note(3, better, 1));
    expect(election.currentProposal).toEqual(A);
    expect(host.events.at(-1)).toEqual({ kind: 'reply', to: id(3), vote: A, round: 2 });
    expect(host.of('broadcast')).toEqual([]);
    election.onFinalizeWaitOver();
    expect(host.of('decide')).toEqual([]);
    // The same vote in the current round does count.
    election.onNotification(note(2, A, 2));
    expect(host.waiting).toBe(true);
  });

  it('resend rebroadcasts the current proposal in the current round', () => {
    const [election, host] = adoptedB();
    election.resend();
    expect(host.events).toEqual([{ kind: 'broadcast', vote: B, round: 1 }]);
  });
});

describe('FastLeaderElection: voters', () => {
  const members = [1, 2, 3];
  const own = vote(1, z(1, 5), 1);
  const better = vote(3, z(1, 9), 1);

  it('ignores LOOKING votes of non-voters (wiped disks)', () => {
    const [election, host] = node(1, members);
    election.start(own);
    host.clear();
    election.onNotification(note(3, better, 1, LOOKING, false));
    election.onNotification(note(2, own, 1, LOOKING, false)); // would make a quorum
    election.onNotification(note(2, better, 7, LOOKING, false)); // would start round 7
    expect(host.events).toEqual([]);
    expect(election.currentProposal).toEqual(own);
    expect(election.round).toBe(1);
  });

  it('counts no FOLLOWING vote of a non-voter: not to join a leader, nor to decide its own', () => {
    // Five members: the leader's LEADING and two wiped followers' FOLLOWING are no quorum.
    const five = [1, 2, 3, 4, 5];
    const behind = vote(5, z(1, 5), 1);
    const [joining, joinHost] = node(1, five);
    joining.start(vote(1, z(1, 10), 1));
    joinHost.clear();
    joining.onNotification(note(5, behind, 1, LEADING));
    joining.onNotification(note(3, behind, 1, FOLLOWING, false));
    joining.onNotification(note(4, behind, 1, FOLLOWING, false));
    expect(joinHost.of('decide')).toEqual([]);
    // A LOOKING voter with two wiped FOLLOWING votes for it in its round: no quorum.
    const [deciding, decideHost] = node(1, five);
    deciding.start(own);
    deciding.onNotification(note(2, own, 1, FOLLOWING, false));
    deciding.onNotification(note(3, own, 1, FOLLOWING, false));
    deciding.onFinalizeWaitOver();
    expect(decideHost.of('decide')).toEqual([]);
    // The same votes from voters count.
    deciding.onNotification(note(2, own, 1, FOLLOWING));
    deciding.onNotification(note(3, own, 1, FOLLOWING));
    deciding.onFinalizeWaitOver();
    expect(decideHost.of('decide')).toEqual([{ kind: 'decide', vote: own, round: 1 }]);
  });

  it('ignores LOOKING votes of nodes outside the group', () => {
    const [election, host] = node(1, members);
    election.start(own);
    host.clear();
    election.onNotification(note(9, better, 1));
    election.onNotification(note(8, own, 1));
    election.onNotification(note(7, own, 0)); // not even answered
    expect(host.events).toEqual([]);
    expect(election.currentProposal).toEqual(own);
    election.onFinalizeWaitOver();
    expect(host.of('decide')).toEqual([]);
  });

  it('a voting group of one is its own quorum', () => {
    const [election, host] = node(1, [1]);
    election.start(own);
    expect(host.events.map((e) => e.kind)).toEqual(['broadcast', 'startWait']);
    election.onFinalizeWaitOver();
    expect(host.of('decide')).toEqual([{ kind: 'decide', vote: own, round: 1 }]);
  });

  it('a non-voter never counts its own vote', () => {
    const [election, host] = node(1, [1]);
    host.voter = false;
    election.start(own);
    expect(host.events.map((e) => e.kind)).toEqual(['broadcast']);
    election.onFinalizeWaitOver();
    expect(host.of('decide')).toEqual([]);
  });

  it('a non-voter takes no part in LOOKING votes', () => {
    const [election, host] = node(1, members);
    host.voter = false;
    election.start(own);
    host.clear();
    election.onNotification(note(3, better, 1));
    election.onNotification(note(2, better, 1));
    expect(host.events).toEqual([]);
    expect(election.currentProposal).toEqual(own);
  });

  it('a non-voter still joins an established leader', () => {
    const [election, host] = node(1, members);
    host.voter = false;
    election.start(own);
    election.onNotification(note(2, vote(3, z(2, 4), 2), 6, FOLLOWING));
    expect(host.of('decide')).toEqual([]);
    election.onNotification(note(3, vote(3, z(2, 4), 2), 6, LEADING));
    expect(host.of('decide')).toEqual([{ kind: 'decide', vote: vote(3, z(2, 4), 2), round: 6 }]);
  });
});

describe('FastLeaderElection: joining an established leader', () => {
  const members = [1, 2, 3, 4, 5];
  const own = vote(5, z(1, 2), 1);
  const L = (zxid = z(3, 2), peerEpoch = 3): Vote => vote(1, zxid, peerEpoch);

  function joiner(): [FastLeaderElection, FakeHost] {
    const [election, host] = node(5, members);
    election.start(own); // round 1
    host.clear();
    return [election, host];
  }

  it('follows when a quorum agrees on (leader, peerEpoch) and the leader says LEADING', () => {
    const [election, host] = joiner();
    election.onNotification(note(2, L(z(3, 1)), 7, FOLLOWING));
    election.onNotification(note(1, L(z(3, 2)), 7, LEADING));
    expect(host.of('decide')).toEqual([]); // two of five
    // A third with a different zxid still agrees (ZOOKEEPER-1732) and a different round too.
    election.onNotification(note(3, L(z(2, 9)), 6, FOLLOWING));
    const decided = host.of('decide');
    expect(decided).toHaveLength(1);
    expect(decided[0]!.vote.leader).toBe(id(1));
    expect(decided[0]!.vote.peerEpoch).toBe(3);
    expect(decided[0]!.round).toBe(6);
    expect(election.round).toBe(6);
    expect(election.currentProposal).toBeNull();
  });

  it('a quorum of FOLLOWING votes without the leader’s own notification does not decide', () => {
    const [election, host] = joiner();
    election.onNotification(note(2, L(), 7, FOLLOWING));
    election.onNotification(note(3, L(), 7, FOLLOWING));
    election.onNotification(note(4, L(), 7, FOLLOWING));
    expect(host.of('decide')).toEqual([]);
    expect(election.currentProposal).toEqual(own);
    // Once the leader confirms, it does.
    election.onNotification(note(1, L(), 7, LEADING));
    expect(host.of('decide')).toHaveLength(1);
    expect(host.of('decide')[0]!.vote.leader).toBe(id(1));
  });

  it('in the same round: a leader that says LOOKING does not confirm, LEADING does', () => {
    const [election, host] = joiner();
    election.onNotification(note(1, vote(1, z(3, 2), 3), 1, LOOKING));
    host.clear();
    election.onNotification(note(2, L(), 1, FOLLOWING));
    election.onNotification(note(3, L(), 1, FOLLOWING));
    election.onNotification(note(4, L(), 1, FOLLOWING));
    expect(host.of('decide')).toEqual([]);
    election.onNotification(note(1, L(), 1, LEADING));
    expect(host.of('decide')).toEqual([{ kind: 'decide', vote: L(), round: 1 }]);
  });

  it('votes for the same leader in another epoch do not add up', () => {
    const [election, host] = joiner();
    election.onNotification(note(2, L(z(2, 5), 2), 7, FOLLOWING)); // stale epoch
    election.onNotification(note(3, L(z(2, 5), 2), 7, FOLLOWING)); // stale epoch
    election.onNotification(note(4, L(), 7, FOLLOWING));
    election.onNotification(note(1, L(), 7, LEADING));
    expect(host.of('decide')).toEqual([]); // epoch 3: nodes 1 and 4 only
    election.onNotification(note(2, L(), 7, FOLLOWING)); // node 2 moved on to epoch 3
    expect(host.of('decide')).toHaveLength(1);
    expect(host.of('decide')[0]!.vote.peerEpoch).toBe(3);
  });

  it('FOLLOWING votes from outside the group do not count', () => {
    const [election, host] = joiner();
    election.onNotification(note(1, L(), 7, LEADING));
    election.onNotification(note(2, L(), 7, FOLLOWING));
    election.onNotification(note(8, L(), 7, FOLLOWING));
    election.onNotification(note(9, L(), 7, FOLLOWING));
    expect(host.of('decide')).toEqual([]);
  });

  it('never joins itself as leader on others’ FOLLOWING votes', () => {
    const [election, host] = node(1, members);
    election.start(vote(1, z(3, 2), 3));
    election.onNotification(note(2, L(), 7, FOLLOWING));
    election.onNotification(note(3, L(), 7, FOLLOWING));
    election.onNotification(note(4, L(), 7, FOLLOWING));
    election.onNotification(note(5, L(), 7, FOLLOWING));
    expect(host.of('decide')).toEqual([]);
  });

  it('its own LOOKING vote for the leader does not stand in for an established server', () => {
    const [election, host] = node(5, members);
    election.start(L()); // node 5 happens to vote for node 1 too
    election.onNotification(note(1, L(), 7, LEADING));
    election.onNotification(note(2, L(), 7, FOLLOWING));
    expect(host.of('decide')).toEqual([]);
    election.onNotification(note(3, L(), 7, FOLLOWING));
    expect(host.of('decide')).toHaveLength(1);
  });
});
