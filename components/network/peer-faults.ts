import type { NodeId } from './node-id.js';

/** What a fault filter drops: peer messages to these nodes, and from these nodes. */
export interface PeerFaultRules {
  readonly dropTo: readonly NodeId[];
  readonly dropFrom: readonly NodeId[];
}

/**
 * Fault injection for test harnesses (`zabkv node --fault-injection`): peer messages to or
 * from chosen nodes are dropped as if the network lost them, while the TCP connections stay
 * up. Loopback cannot be partitioned from outside the processes, so a harness cuts links
 * here. Off (and absent from the network) unless the node was started with the flag.
 */
export class PeerFaults {
  private dropTo = new Set<NodeId>();
  private dropFrom = new Set<NodeId>();
  /** Messages dropped by these rules so far. */
  dropped = 0;

  set(rules: PeerFaultRules): void {
    this.dropTo = new Set(rules.dropTo);
    this.dropFrom = new Set(rules.dropFrom);
  }

  rules(): PeerFaultRules {
    return { dropTo: [...this.dropTo], dropFrom: [...this.dropFrom] };
  }

  /** Whether a message to `peer` is dropped (and counted). */
  dropsTo(peer: NodeId): boolean {
    return this.drop(this.dropTo.has(peer));
  }

  /** Whether a message from `peer` is dropped (and counted). */
  dropsFrom(peer: NodeId): boolean {
    return this.drop(this.dropFrom.has(peer));
  }

  private drop(matches: boolean): boolean {
    if (matches) this.dropped++;
    return matches;
  }
}
