import { PEER_REJECTION_WARN_RESET_MS } from '../components/limits.js';

/**
 * Why a message from a peer was dropped (DESIGN §4: peer input is validated, never asserted).
 * A fixed set, so the metric `zabkv_peer_messages_rejected_total{reason}` has few series.
 */
export type PeerRejectionReason =
  /** The sender is not a member of the group the message is about. */
  | 'not-a-member'
  /** The sender is not a node of the lookup table (routing). */
  | 'not-in-table'
  /** A ZAB message for a group this node does not replicate. */
  | 'wrong-group'
  /** An epoch at or above the maximum, or one the protocol cannot have reached. */
  | 'impossible-epoch'
  /** A zxid the protocol cannot have produced: an ACK above the last proposal, a COMMIT or TRUNC point not held. */
  | 'impossible-zxid'
  /** A session message in a phase where it cannot come, or a round never asked for. */
  | 'out-of-place'
  /** A payload that does not decode to what it must be (an operation, a write, a snapshot). */
  | 'bad-payload'
  /** An operation beyond the HTTP limits: an empty or too long key, a value too large. */
  | 'over-limits'
  /** A lookup table that does not answer this node's check-in with the bootstrap node. */
  | 'table-not-from-bootstrap'
  /** A different lookup table once one is known: membership is fixed once formed. */
  | 'table-after-formation'
  /** A lookup table that is not a consistent table, or lacks this node. */
  | 'bad-table'
  /** A check-in whose address names another id than its sender, or the bootstrap alias. */
  | 'check-in-id-mismatch'
  /** A check-in for an id already known at another address. */
  | 'check-in-moves-address'
  /** A check-in from a node outside the formed cluster. */
  | 'check-in-not-member';

/** Where rejections are logged: a component's pino logger has this shape. */
export interface WarnLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

const NONE: Readonly<Record<string, number>> = Object.freeze({});

/** When each reason was last logged, and its count since the backoff last started over. */
interface Backoff {
  loggedAt: number;
  sinceReset: number;
  nextWarn: number;
}

/**
 * The peer input a protocol component dropped, counted by reason. The component reports the
 * counts in its status (the host turns them into the Prometheus counter) and never touches
 * metrics itself. Each reason is logged at warn its 1st, 2nd, 4th, 8th… time, with the count so
 * far: a peer that sends thousands of bad messages costs a few lines, not thousands. Once
 * PEER_REJECTION_WARN_RESET_MS has passed since a reason's last line, its backoff starts over
 * at 1: without that, a reason seen a million times in an attack last week would next be
 * logged at its two millionth, and a new attack today would go unseen in the log (an attack
 * that goes on is thus logged again every so often, a few lines each time).
 *
 * The clock only decides which rejections get a log line, never what is counted. Protocol
 * code reads no clock (DESIGN §2), so the owner hands one in, in milliseconds: time as its
 * Timer port has told it (virtual in simulation, so the log stays deterministic; tests need no
 * sleeps). Without one there is no reset, as before.
 */
export class PeerRejections {
  private readonly byReason = new Map<PeerRejectionReason, number>();
  private readonly backoff = new Map<PeerRejectionReason, Backoff>();
  private snapshot: Readonly<Record<string, number>> = NONE;
  private totalValue = 0;

  constructor(
    private readonly log: WarnLog,
    private readonly now: (() => number) | null = null,
    private readonly resetMs: number = PEER_REJECTION_WARN_RESET_MS,
  ) {}

  /** Counts one rejection; `fields` say what and from whom (for the log line). */
  reject(reason: PeerRejectionReason, fields: Record<string, unknown>): void {
    const count = (this.byReason.get(reason) ?? 0) + 1;
    this.byReason.set(reason, count);
    this.totalValue++;
    this.snapshot = NONE;
    const now = this.now?.() ?? 0;
    let backoff = this.backoff.get(reason);
    if (backoff === undefined || (this.now !== null && now - backoff.loggedAt >= this.resetMs)) {
      backoff = { loggedAt: now, sinceReset: 0, nextWarn: 1 };
      this.backoff.set(reason, backoff);
    }
    backoff.sinceReset++;
    if (backoff.sinceReset === backoff.nextWarn) {
      backoff.nextWarn *= 2;
      backoff.loggedAt = now;
      this.log.warn({ ...fields, reason, count }, 'peer input rejected');
    }
  }

  /** Rejections so far, by reason: the same object until the next rejection. */
  get counts(): Readonly<Record<string, number>> {
    if (this.snapshot === NONE && this.totalValue > 0) {
      this.snapshot = Object.freeze(Object.fromEntries(this.byReason));
    }
    return this.snapshot;
  }

  /** Rejections so far, all reasons together: changes whenever `counts` does. */
  get total(): number {
    return this.totalValue;
  }
}
