import { Type } from '@sinclair/typebox';
import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import {
  defineMessages,
  MessageCatalogue,
  type PayloadsOf,
} from '../components/network/message-catalogue.js';
import { Network } from '../components/network/network-port.js';
import type { NodeId, PeerAddress } from '../components/network/node-id.js';
import type { PeerTlsInit } from '../components/network/peer-tls.js';
import { TcpNetwork } from '../components/network/tcp-network.js';

export const benchMessages = defineMessages({
  'bench.Data': Type.Object({ seq: Type.Integer({ minimum: 0 }), payload: Type.String() }),
  /** The receiver's count so far, sent back when asked by a Data with payload "?" */
  'bench.Count': Type.Object({ count: Type.Integer({ minimum: 0 }) }),
  'bench.Ping': Type.Object({ seq: Type.Integer({ minimum: 0 }) }),
  'bench.Pong': Type.Object({ seq: Type.Integer({ minimum: 0 }) }),
});

declare module '../components/network/network-port.js' {
  interface NetworkMessages extends PayloadsOf<typeof benchMessages> {}
}

export interface BenchNodeInit {
  readonly self: NodeId;
  readonly port: number;
  readonly peers: readonly PeerAddress[];
  /** Mutual TLS between the two (certificates of cluster `bench`). */
  readonly tls?: PeerTlsInit;
}

/** A TcpNetwork plus an endpoint that counts data, answers count queries and echoes pings. */
export class BenchNode extends ComponentDefinition {
  readonly tcp: TcpNetwork;
  readonly endpoint: BenchEndpoint;
  constructor(context: ComponentContext, init: BenchNodeInit) {
    super(context);
    this.tcp = this.create(TcpNetwork, {
      self: init.self,
      clusterId: 'bench',
      listen: { host: '127.0.0.1', port: init.port },
      peers: init.peers,
      catalogue: new MessageCatalogue(benchMessages),
      ...(init.tls === undefined ? {} : { tls: init.tls }),
    });
    this.endpoint = this.create(BenchEndpoint, init.self);
    this.connect(this.tcp.provided(Network), this.endpoint.required(Network));
  }
}

export class BenchEndpoint extends ComponentDefinition {
  private readonly network = this.requires(Network);
  received = 0;
  onCount: (count: number) => void = () => {};
  onPong: (seq: number) => void = () => {};

  constructor(
    context: ComponentContext,
    private readonly self: NodeId,
  ) {
    super(context);
    this.subscribe(this.network, 'bench.Data', (data) => {
      this.received++;
      if (data.payload === '?') {
        this.trigger(
          { kind: 'bench.Count', src: self, dst: data.src, count: this.received },
          this.network,
        );
      }
    });
    this.subscribe(this.network, 'bench.Count', (m) => this.onCount(m.count));
    this.subscribe(this.network, 'bench.Ping', (ping) =>
      this.trigger({ kind: 'bench.Pong', src: self, dst: ping.src, seq: ping.seq }, this.network),
    );
    this.subscribe(this.network, 'bench.Pong', (pong) => this.onPong(pong.seq));
  }

  setPeers(peers: readonly PeerAddress[]): void {
    this.trigger({ kind: 'SetPeers', peers }, this.network);
  }

  send(dst: NodeId, kind: 'bench.Data', seq: number, payload: string): void;
  send(dst: NodeId, kind: 'bench.Ping', seq: number): void;
  send(dst: NodeId, kind: 'bench.Data' | 'bench.Ping', seq: number, payload = ''): void {
    if (kind === 'bench.Data')
      this.trigger({ kind, src: this.self, dst, seq, payload }, this.network);
    else this.trigger({ kind, src: this.self, dst, seq }, this.network);
  }
}
