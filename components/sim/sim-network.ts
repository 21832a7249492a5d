import { ComponentDefinition, type ComponentContext } from '../kernel/index.js';
import { Network, type NetMessage } from '../network/network-port.js';
import type { NodeId } from '../network/node-id.js';
import type { SimFabric } from './sim-fabric.js';

export interface SimNetworkInit {
  readonly self: NodeId;
  readonly fabric: SimFabric;
}

/** One node's attachment to the simulated wire; the simulated twin of TcpNetwork. */
export class SimNetwork extends ComponentDefinition {
  readonly network = this.provides(Network);
  private readonly self: NodeId;
  private readonly fabric: SimFabric;

  constructor(context: ComponentContext, init: SimNetworkInit) {
    super(context);
    this.self = init.self;
    this.fabric = init.fabric;
    // Attached at construction, not at start: messages that arrive before the node starts
    // wait in its mailbox, as they would in a socket buffer.
    this.fabric.attach(
      this.self,
      (message) => this.trigger(message as NetMessage, this.network),
      (peer) => this.trigger({ kind: 'LinkDown', peer }, this.network),
    );
    this.subscribeAll(this.network, (request, origin) => {
      if (request.kind === 'SetPeers') return; // addresses mean nothing on the simulated wire
      // The fabric takes a message the moment it is sent: nothing is ever left to flush, but
      // as over TCP the answer comes in a later turn (a sync's tail goes a piece per step).
      if (request.kind === 'Flush') {
        const { peer } = request;
        const flushed = { kind: 'Flushed' as const, ...(peer === undefined ? {} : { peer }) };
        return this.fabric.later(this.self, () => this.answer(origin, flushed));
      }
      if (request.dst === this.self) this.trigger(request, this.network);
      else this.fabric.send(request);
    });
  }

  protected override onKill(): void {
    this.fabric.detach(this.self);
  }
}
