import assert from 'node:assert/strict';
import { ComponentDefinition, type ComponentContext } from '../kernel/index.js';
import { Network } from '../network/network-port.js';
import type { NodeId } from '../network/node-id.js';
import { Timer } from '../timer/timer-port.js';
import { TimerClient } from '../timer/timer-client.js';
import { FailureDetector } from './failure-detector-port.js';
import './failure-detector-messages.js';

export interface FailureDetectorInit {
  readonly self: NodeId;
  readonly peers: readonly NodeId[];
  /** How often heartbeats are sent and silence is checked. */
  readonly heartbeatMs: number;
  /** Silence, in heartbeat periods, before a peer is first suspected. */
  readonly initialTimeoutTicks: number;
  /** Added to a peer's timeout each time a suspicion of it proves false. */
  readonly timeoutIncrementTicks: number;
}

interface PeerState {
  silentTicks: number;
  timeoutTicks: number;
  suspected: boolean;
}

/**
 * Eventually perfect failure detector: every node sends a heartbeat to each monitored peer
 * every period and suspects a peer silent for longer than that peer's timeout. A heartbeat
 * from a suspected peer restores it and raises its timeout, so after finitely many false
 * suspicions a correct peer's timeout exceeds the real message delay and it is never
 * suspected again (Cachin, Guerraoui, Rodrigues, "Reliable and Secure Distributed
 * Programming", §2.6.5, with a timeout per peer instead of one for all).
 *
 * Time is counted in ticks of the periodic heartbeat timer, never read from a clock.
 */
export class EventuallyPerfectFailureDetector extends ComponentDefinition {
  readonly detector = this.provides(FailureDetector);
  private readonly network = this.requires(Network);
  private readonly timer = this.requires(Timer);
  private readonly timers = new TimerClient(this, (request) => this.trigger(request, this.timer));
  private readonly peers = new Map<NodeId, PeerState>();
  private readonly settings: FailureDetectorInit;

  constructor(context: ComponentContext, init: FailureDetectorInit) {
    super(context);
    assert(
      init.heartbeatMs > 0 && init.initialTimeoutTicks >= 2 && init.timeoutIncrementTicks >= 1,
    );
    this.settings = init;
    this.monitor(init.peers);
    this.subscribe(this.timer, 'Timeout', this.timers.onTimeout);
    this.subscribe(this.detector, 'Monitor', (request) => this.monitor(request.peers));
    this.subscribe(this.network, 'fd.Heartbeat', (heartbeat) => this.onHeartbeat(heartbeat.src));
  }

  protected override onStart(): void {
    this.timers.every(this.settings.heartbeatMs, () => this.onTick(), 0);
  }

  protected override onKill(): void {
    this.timers.cancelAll();
  }

  /** Current suspicions, for tests and status pages. */
  suspects(): NodeId[] {
    return [...this.peers].filter(([, state]) => state.suspected).map(([peer]) => peer);
  }

  private monitor(peers: readonly NodeId[]): void {
    const wanted = new Set(peers.filter((peer) => peer !== this.settings.self));
    for (const peer of this.peers.keys()) if (!wanted.has(peer)) this.peers.delete(peer);
    for (const peer of wanted) {
      if (this.peers.has(peer)) continue;
      this.peers.set(peer, {
        silentTicks: 0,
        timeoutTicks: this.settings.initialTimeoutTicks,
        suspected: false,
      });
    }
  }

  private onTick(): void {
    for (const [peer, state] of this.peers) {
      this.trigger({ kind: 'fd.Heartbeat', src: this.settings.self, dst: peer }, this.network);
      state.silentTicks++;
      if (!state.suspected && state.silentTicks > state.timeoutTicks) {
        state.suspected = true;
        this.log.info({ peer, timeoutTicks: state.timeoutTicks }, 'suspect');
        this.trigger({ kind: 'Suspect', peer }, this.detector);
      }
    }
  }

  private onHeartbeat(peer: NodeId): void {
    const state = this.peers.get(peer);
    if (state === undefined) return; // not monitored (yet, or any more)
    state.silentTicks = 0;
    if (!state.suspected) return;
    state.suspected = false;
    state.timeoutTicks += this.settings.timeoutIncrementTicks;
    this.log.info({ peer, timeoutTicks: state.timeoutTicks }, 'restore');
    this.trigger({ kind: 'Restore', peer }, this.detector);
  }

  override checkInvariants(): void {
    for (const state of this.peers.values()) {
      assert(state.timeoutTicks >= this.settings.initialTimeoutTicks);
      assert(state.silentTicks >= 0);
    }
  }
}
