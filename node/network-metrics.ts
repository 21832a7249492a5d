import { Counter, type Registry } from 'prom-client';
import type { TcpNetworkStats } from '../components/network/tcp-network.js';

/**
 * The peer network's counters on `/metrics`, read from TcpNetworkStats when scraped. A rising
 * `zabkv_peer_handshake_failures_total` is someone without the right certificate (or the wrong
 * cluster id) knocking on the peer port; refused connections and timeouts are floods and scans.
 */
export function registerNetworkMetrics(registry: Registry, stats: TcpNetworkStats): void {
  const registers = [registry];
  const counter = (name: string, help: string, value: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  new Counter({
    name: 'zabkv_peer_handshake_failures_total',
    help: 'Peer connections whose TLS or Hello failed: in (accepted here) or out (dialled)',
    labelNames: ['direction'],
    registers,
    collect() {
      this.reset();
      this.inc({ direction: 'in' }, stats.handshakeFailures);
      this.inc({ direction: 'out' }, stats.dialHandshakeFailures);
    },
  });
  counter(
    'zabkv_peer_handshake_timeouts_total',
    'Inbound peer connections closed for not completing TLS and the Hello in time',
    () => stats.handshakeTimeouts,
  );
  counter(
    'zabkv_peer_connections_refused_total',
    'Inbound peer connections closed at once: too many connections',
    () => stats.connectionsRefused,
  );
  counter(
    'zabkv_peer_handshakes_evicted_total',
    'Inbound peer handshakes closed to make room: their source was at its cap, or held the most when every slot was taken',
    () => stats.handshakesEvicted,
  );
  counter(
    'zabkv_peer_frame_stalls_total',
    'Inbound peer connections closed for sitting on an incomplete frame with no byte arriving',
    () => stats.frameStalls,
  );
  counter(
    'zabkv_peer_buffer_evictions_total',
    'Inbound peer connections closed for holding the largest incomplete frame when all of them went over the budget',
    () => stats.bufferEvictions,
  );
  counter(
    'zabkv_peer_connections_replaced_total',
    'Inbound peer connections replaced by a newer one from the same peer',
    () => stats.connectionsReplaced,
  );
  counter(
    'zabkv_peer_connections_accepted_total',
    'Inbound peer connections accepted (before any check)',
    () => stats.connectionsAccepted,
  );
  counter(
    'zabkv_peer_bad_frames_total',
    'Peer connections closed for an oversized, undecodable or invalid frame',
    () => stats.badFrames,
  );
  counter(
    'zabkv_peer_messages_received_total',
    'Valid messages received from peers',
    () => stats.framesIn,
  );
  counter(
    'zabkv_peer_messages_dropped_total',
    'Messages to peers dropped: no address, or over the queue bound',
    () => stats.dropped,
  );
}
