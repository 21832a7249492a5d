import type { NodeId } from '../components/network/node-id.js';
import { LEADING, LOOKING, type FOLLOWING } from './zab-messages.js';
import type { Zxid } from '../kv/zxid.js';

export type PeerState = typeof LOOKING | typeof FOLLOWING | typeof LEADING;

/** A vote for a leader: FastLeaderElection's (id, zxid, peerEpoch). */
export interface Vote {
  readonly leader: NodeId;
  readonly zxid: Zxid;
  /** The voter's view of the candidate's currentEpoch (after sync: the new epoch). */
  readonly peerEpoch: number;
  /** The candidate's disk was below its reserve when it voted for itself. */
  readonly spaceLow: boolean;
}

/** A notification as received: a vote, the sender's round and state. */
export interface Notification extends Vote {
  readonly from: NodeId;
  readonly round: number;
  readonly state: PeerState;
  readonly voter: boolean;
}

export interface ElectionHost {
  readonly self: NodeId;
  selfIsVoter(): boolean;
  /** True when `count` votes (each from a distinct voter of the group) form a quorum. */
  isQuorum(count: number): boolean;
  isVoter(node: NodeId): boolean;
  broadcast(vote: Vote, round: number): void;
  reply(to: NodeId, vote: Vote, round: number): void;
  startFinalizeWait(): void;
  cancelFinalizeWait(): void;
  decide(vote: Vote, round: number): void;
}

/**
 * The total order of votes (FastLeaderElection.totalOrderPredicate): currentEpoch first, so
 * a server that accepted a newer NEWLEADER beats one that merely logged more in an older
 * epoch; then the last logged zxid (docs/zab-rules.md R1: durable log, not applied state); then
 * room on its disk (a leader below its disk reserve refuses every write with 507, and steps
 * down when a quorum of its followers has room: among equal histories one of those must win,
 * or it would lead again); then the id. Anything may order equal histories: safety needs only
 * that no vote beats a longer one.
 */
export function beats(candidate: Vote, current: Vote): boolean {
  if (candidate.peerEpoch !== current.peerEpoch) return candidate.peerEpoch > current.peerEpoch;
  if (candidate.zxid !== current.zxid) return candidate.zxid > current.zxid;
  if (candidate.spaceLow !== current.spaceLow) return !candidate.spaceLow;
  return candidate.leader > current.leader;
}

function sameVote(a: Vote, b: Vote): boolean {
  return a.leader === b.leader && a.zxid === b.zxid && a.peerEpoch === b.peerEpoch;
}

/**
 * One node's Fast Leader Election (ZooKeeper's FastLeaderElection.lookForLeader as a state
 * machine driven by notifications and timeouts). FLE is only a hint: it picks a leader whose
 * history is at least that of a quorum; discovery checks it again.
 */
export class FastLeaderElection {
  /** The logical clock: notifications from older rounds are ignored. */
  round = 0;
  private proposal: Vote | null = null;
  private initial: Vote | null = null;
  private readonly received = new Map<NodeId, Notification>();
  private readonly outOfElection = new Map<NodeId, Notification>();
  private finalizing = false;

  constructor(private readonly host: ElectionHost) {}

  get currentProposal(): Vote | null {
    return this.proposal;
  }

  /** Starts a new round with this node's own vote (ignored for counting if it is a non-voter). */
  start(own: Vote): void {
    // A peer's round is taken as it comes, up to the largest a vote may carry (a hostile member
    // can send that one): past it no peer would take this node's votes again. There the rounds
    // stay; the election still converges, older notifications of the same round counting as
    // current ones (liveness only: discovery, not the election, keeps ZAB safe).
    this.round = Math.min(this.round + 1, Number.MAX_SAFE_INTEGER);
    this.initial = own;
    this.proposal = own;
    this.received.clear();
    this.outOfElection.clear();
    this.setFinalizing(false);
    this.host.broadcast(own, this.round);
    // A group of one is its own quorum.
    if (this.quorumFor(this.received, own)) this.setFinalizing(true);
  }

  /** The retransmission a quiet election needs (lost notifications, late peers). */
  resend(): void {
    if (this.proposal !== null) this.host.broadcast(this.proposal, this.round);
  }

  onNotification(n: Notification): void {
    const proposal = this.proposal;
    if (proposal === null) return;
    if (n.state === LOOKING) {
      // Wiped servers neither count nor are counted (ZOOKEEPER-261).
      if (!n.voter || !this.host.selfIsVoter() || !this.host.isVoter(n.from)) return;
      if (n.round > this.round) {
        this.round = n.round;
        this.received.clear();
        this.proposal = beats(n, this.initial!) ? pick(n) : this.initial!;
        this.setFinalizing(false);
        this.host.broadcast(this.proposal, this.round);
      } else if (n.round < this.round) {
        this.host.reply(n.from, proposal, this.round);
        return;
      } else if (beats(n, proposal)) {
        this.proposal = pick(n);
        this.setFinalizing(false);
        this.host.broadcast(this.proposal, this.round);
      }
      this.received.set(n.from, n);
      if (!this.finalizing && this.quorumFor(this.received, this.proposal!)) {
        this.setFinalizing(true);
      }
      return;
    }
    // The sender already follows or leads: join it if a quorum does and the leader says so.
    if (n.round === this.round) {
      this.received.set(n.from, n);
      if (this.quorumEstablished(this.received, n) && this.leaderConfirms(this.received, n)) {
        this.finish(pick(n));
        return;
      }
    }
    this.outOfElection.set(n.from, n);
    if (
      this.quorumEstablished(this.outOfElection, n) &&
      this.leaderConfirms(this.outOfElection, n)
    ) {
      this.round = n.round;
      this.finish(pick(n));
    }
  }

  /** The finalize wait ended with no better vote: the proposal stands. */
  onFinalizeWaitOver(): void {
    this.finalizing = false;
    if (this.proposal !== null && this.quorumFor(this.received, this.proposal)) {
      this.finish(this.proposal);
    }
  }

  private finish(vote: Vote): void {
    this.setFinalizing(false);
    this.proposal = null;
    this.host.decide(vote, this.round);
  }

  private setFinalizing(on: boolean): void {
    if (on === this.finalizing) return;
    this.finalizing = on;
    if (on) this.host.startFinalizeWait();
    else this.host.cancelFinalizeWait();
  }

  /** In-round termination: a quorum of voters, this node included, has exactly this vote. */
  private quorumFor(votes: Map<NodeId, Notification>, vote: Vote): boolean {
    return this.host.isQuorum(
      this.count(votes, (n) => n.round === this.round && sameVote(n, vote)),
    );
  }

  /** Established servers agree on (leader, peerEpoch); their zxids may differ (ZOOKEEPER-1732). */
  private quorumEstablished(votes: Map<NodeId, Notification>, vote: Notification): boolean {
    return this.host.isQuorum(
      this.count(
        votes,
        (n) => n.state !== LOOKING && n.leader === vote.leader && n.peerEpoch === vote.peerEpoch,
      ),
    );
  }

  /**
   * Voters that match, this node included. Wiped servers are not counted in any state: their
   * FOLLOWING votes made a voter follow a leader behind it, or decide its own leadership with
   * no quorum of voters behind it (liveness only; discovery counts voters again).
   */
  private count(votes: Map<NodeId, Notification>, matches: (n: Notification) => boolean): number {
    let count = 0;
    for (const [from, n] of votes) {
      if (from !== this.host.self && n.voter && this.host.isVoter(from) && matches(n)) count++;
    }
    const own = this.proposal;
    const selfAgrees =
      own !== null &&
      this.host.selfIsVoter() &&
      matches({ ...own, from: this.host.self, round: this.round, state: LOOKING, voter: true });
    return selfAgrees ? count + 1 : count;
  }

  /**
   * The leader's own notification must say LEADING (checkLeader), so a quorum of stale
   * FOLLOWING votes cannot elect a leader that is gone.
   */
  private leaderConfirms(votes: Map<NodeId, Notification>, n: Vote): boolean {
    if (n.leader === this.host.self) return false;
    return votes.get(n.leader)?.state === LEADING;
  }
}

function pick(n: Vote): Vote {
  return { leader: n.leader, zxid: n.zxid, peerEpoch: n.peerEpoch, spaceLow: n.spaceLow };
}
