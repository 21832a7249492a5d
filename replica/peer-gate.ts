import type { NodeId } from '../components/network/node-id.js';
import { PeerRejections, type PeerRejectionReason, type WarnLog } from '../kv/peer-rejections.js';
import { MAX_EPOCH } from '../kv/zxid.js';

/** What the gate looks at: every message has a sender; ZAB messages name a group. */
interface GateMessage {
  readonly kind: string;
  readonly src: NodeId;
  readonly group?: number;
  /** zab.Vote: the leader it votes for. */
  readonly leader?: number;
  /** zab.FollowerInfo: the epoch it promised. */
  readonly acceptedEpoch?: number;
}

/**
 * The replica's door to the network (DESIGN §4: peer input is validated, never asserted).
 * Only members of the group take part in its protocol: a message from any other node, or
 * about another group, is dropped here before any role sees it, as are votes for a leader
 * outside the group and promises of an epoch no leader could exceed. The roles check what
 * depends on their state (leader.ts, follower.ts, leader-proposals.ts) and report through
 * `reject`. Every drop is counted by reason, for ReplicaStatus and the metric, and logged at
 * warn with a limit (kv/peer-rejections.ts); nothing a peer sends can throw.
 */
export class PeerGate {
  private readonly members: ReadonlySet<NodeId>;
  private readonly rejections: PeerRejections;

  /** `now`: milliseconds as the replica's ticks count them (the warn backoff's reset). */
  constructor(
    private readonly config: { readonly group: number; readonly members: readonly NodeId[] },
    log: WarnLog,
    now: (() => number) | null = null,
  ) {
    this.members = new Set(config.members);
    this.rejections = new PeerRejections(log, now);
  }

  isMember(node: NodeId): boolean {
    return this.members.has(node);
  }

  /** Whether `message` may go on to the roles; if not, it is counted and logged. */
  admits(message: GateMessage): boolean {
    const refuse = (reason: PeerRejectionReason, why?: string): false => {
      const fields = { from: message.src, kind: message.kind };
      this.reject(reason, why === undefined ? fields : { ...fields, why });
      return false;
    };
    if (!this.members.has(message.src)) return refuse('not-a-member');
    if (message.group !== undefined && message.group !== this.config.group) {
      return refuse('wrong-group', `group ${message.group}`);
    }
    const { leader, acceptedEpoch } = message;
    if (message.kind === 'zab.Vote' && !this.members.has(leader as NodeId)) {
      // Followed, it would leave this replica without a leader until initLimit.
      return refuse('not-a-member', `a vote for ${leader}`);
    }
    if (message.kind === 'zab.FollowerInfo' && (acceptedEpoch ?? 0) + 1 >= MAX_EPOCH) {
      // The epoch after it would be at the maximum: no leader may propose it.
      return refuse('impossible-epoch', `acceptedEpoch ${acceptedEpoch}`);
    }
    return true;
  }

  /** A role drops a peer's message or session: counted, and logged at warn with a limit. */
  reject(reason: PeerRejectionReason, fields: Record<string, unknown>): void {
    this.rejections.reject(reason, { group: this.config.group, ...fields });
  }

  /** Everything dropped so far, by reason: the same object until the next drop. */
  get counts(): Readonly<Record<string, number>> {
    return this.rejections.counts;
  }
}
