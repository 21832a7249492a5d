// The far side of the network benchmark: node <this> <peerPort> [<tls dir>]; prints
// "listening <port>".
import { ComponentSystem, LiveScheduler } from '../components/kernel/index.js';
import { nodeId } from '../components/network/node-id.js';
import { loadPeerTls } from '../node/peer-tls-files.js';
import { BenchNode } from './net-bench-peer.js';

const peerPort = Number(process.argv[2]);
const tlsDir = process.argv[3];
const system = new ComponentSystem({
  scheduler: new LiveScheduler(),
  onRootFault: () => process.exit(1),
});
const node = system.createRoot(BenchNode, {
  self: nodeId(2),
  port: 0,
  peers: [{ id: nodeId(1), host: '127.0.0.1', port: peerPort }],
  ...(tlsDir === undefined ? {} : { tls: loadPeerTls(tlsDir, nodeId(2), 'bench', false) }),
});
node.start();
void node.tcp.whenListening().then((port) => console.log(`listening ${port}`));
process.on('disconnect', () => process.exit(0));
