import { Registry } from 'prom-client';
import { ComponentSystem, LiveScheduler } from '../../components/kernel/index.js';
import { nodeId } from '../../components/network/node-id.js';
import type { StoreKind } from '../../components/storage/disk-store.js';
import { freePorts } from '../../client/free-ports.js';
import { NodeHost } from '../../node/node-host.js';
import type { NodeHostInit } from '../../node/node-host-init.js';

export interface OneNodeOptions {
  readonly clusterId: string;
  readonly dataDir: string;
  readonly storage?: StoreKind;
  readonly registry?: Registry;
  readonly saveTable?: NodeHostInit['saveTable'];
}

/**
 * A cluster of one node in this process (NodeHost on real loopback ports, the lookup table
 * needs them), started and listening; its HTTP side is `host.frontend.server`.
 */
export async function startOneNode(options: OneNodeOptions): Promise<NodeHost> {
  const system = new ComponentSystem({ scheduler: new LiveScheduler() });
  const host = system.createRoot(NodeHost, {
    self: nodeId(1),
    clusterId: options.clusterId,
    peer: { host: '127.0.0.1', port: await freePorts(1) },
    http: { host: '127.0.0.1', port: await freePorts(1) },
    dataDir: options.dataDir,
    ...(options.storage === undefined ? {} : { storage: options.storage }),
    bootstrap: { role: 'server', clusterSize: 1, replication: 1 },
    savedTable: null,
    saveTable: options.saveTable ?? (() => {}),
    registry: options.registry ?? new Registry(),
    seed: 1,
  });
  host.start();
  await host.frontend.whenListening();
  return host;
}
