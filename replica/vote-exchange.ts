import type { MessageOf, NetMessage } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import { FastLeaderElection, type Notification, type Vote } from './election.js';
import type { ReplicaInit } from './replica-config.js';
import { LOOKING, type FOLLOWING, type LEADING } from './zab-messages.js';

/** What the vote exchange needs of its replica. */
export interface VoteExchangeHost {
  readonly config: ReplicaInit;
  /** This node's votes count (its disk holds the history it acknowledged). */
  isVoter(): boolean;
  isQuorum(count: number): boolean;
  send(message: NetMessage): void;
  after(ms: number, callback: () => void): number;
  cancel(timer: number): void;
  /** The election chose `vote.leader`. */
  decide(vote: Vote, round: number): void;
  /** Null while looking; an established replica's vote and state otherwise. */
  settled(): { readonly vote: Vote; readonly state: typeof FOLLOWING | typeof LEADING } | null;
}

/**
 * A replica's Fast Leader Election on the wire: notifications out to every member, with
 * retransmission backing off while looking; notifications in from members only; the finalize
 * wait as a timer; and, once settled, the answer a looking peer needs to join (FLE's
 * receiver thread).
 */
export class VoteExchange {
  private readonly election: FastLeaderElection;
  private readonly members: readonly NodeId[];
  private resendTicks: number;
  private ticksSinceVote = 0;
  private finalizeTimer: number | null = null;

  constructor(private readonly host: VoteExchangeHost) {
    const { config } = host;
    this.members = config.members;
    this.resendTicks = config.voteResendTicks;
    this.election = new FastLeaderElection({
      self: config.self,
      selfIsVoter: () => host.isVoter(),
      isQuorum: (count) => host.isQuorum(count),
      isVoter: (node) => this.members.includes(node),
      broadcast: (vote, round) => {
        this.ticksSinceVote = 0;
        for (const member of this.members) {
          if (member !== config.self) this.sendVote(member, vote, round, LOOKING);
        }
      },
      reply: (to, vote, round) => this.sendVote(to, vote, round, LOOKING),
      startFinalizeWait: () => {
        this.finalizeTimer = host.after(config.finalizeWaitMs, () => {
          this.finalizeTimer = null;
          this.election.onFinalizeWaitOver();
        });
      },
      cancelFinalizeWait: () => {
        if (this.finalizeTimer !== null) host.cancel(this.finalizeTimer);
        this.finalizeTimer = null;
      },
      decide: (vote, round) => host.decide(vote, round),
    });
  }

  /** Starts looking, voting for `vote` (this node, its last zxid and its currentEpoch). */
  start(vote: Vote): void {
    this.resendTicks = this.host.config.voteResendTicks;
    this.election.start(vote);
  }

  /** While looking: resend the vote, less often each time (up to maxVoteResendTicks). */
  onLookingTick(): void {
    if (++this.ticksSinceVote < this.resendTicks) return;
    this.resendTicks = Math.min(this.resendTicks * 2, this.host.config.maxVoteResendTicks);
    this.election.resend();
  }

  onVote(message: MessageOf<'zab.Vote'>): void {
    if (!this.members.includes(message.src)) return;
    const settled = this.host.settled();
    if (settled === null) {
      const notification: Notification = {
        from: message.src,
        leader: message.leader as NodeId,
        zxid: message.zxid,
        peerEpoch: message.peerEpoch,
        spaceLow: message.spaceLow,
        round: message.round,
        state: message.state,
        voter: message.voter,
      };
      this.election.onNotification(notification);
      return;
    }
    // Established: tell a looking peer whom we follow, so it can join.
    if (message.state === LOOKING) {
      this.sendVote(message.src, settled.vote, this.election.round, settled.state);
    }
  }

  private sendVote(to: NodeId, vote: Vote, round: number, state: 0 | 1 | 2): void {
    const { self, group } = this.host.config;
    this.host.send({
      kind: 'zab.Vote',
      src: self,
      dst: to,
      group,
      leader: vote.leader,
      zxid: vote.zxid,
      peerEpoch: vote.peerEpoch,
      spaceLow: vote.spaceLow,
      round,
      state,
      voter: this.host.isVoter(),
    });
  }
}
