import type { Registry } from 'prom-client';
import type { NodeId } from '../components/network/node-id.js';
import type { PeerTlsInit } from '../components/network/peer-tls.js';
import type { StoreKind } from '../components/storage/disk-store.js';
import type { LookupTable } from '../bootstrap/lookup-table.js';
import type { AccessTokens } from '../frontend/access-tokens.js';
import type { HttpLimits, HttpTls } from '../frontend/http-frontend.js';
import type { ReplicaConfig } from '../replica/replica-config.js';
import type { HistoryLimits } from '../watch/change-history.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** The bootstrap node forms the cluster; every other node knows only its address. */
export type BootstrapRole =
  | { readonly role: 'server'; readonly clusterSize: number; readonly replication: number }
  | { readonly role: 'client'; readonly server: Endpoint };

export interface NodeHostInit {
  readonly self: NodeId;
  readonly clusterId: string;
  readonly peer: Endpoint;
  readonly http: Endpoint;
  readonly dataDir: string;
  /** The replica's store (default `wal`). */
  readonly storage?: StoreKind;
  readonly bootstrap: BootstrapRole;
  /** The table persisted before a restart, if any. */
  readonly savedTable: LookupTable | null;
  /** Called once the bootstrap node says the cluster formed without this node. */
  readonly onExcluded?: () => void;
  /** Called with every newer table; the caller persists it. */
  readonly saveTable: (table: LookupTable) => void;
  /** The check-in nonce of this data directory (formation-files.ts); drawn when absent. */
  readonly checkInNonce?: number;
  /** The bootstrap node's: the check-ins its saved table was formed with, and how to keep them. */
  readonly formation?: {
    readonly saved: ReadonlyMap<NodeId, number> | null;
    readonly save: (formation: ReadonlyMap<NodeId, number>) => void;
  };
  readonly registry: Registry;
  readonly seed: number;
  readonly timing?: Partial<ReplicaConfig>;
  /** A log flush slower than this is logged at warn (ZooKeeper's fsync.warningthresholdms). */
  readonly slowFsyncMs?: number;
  /** Free disk space below which the store reports SpaceLow (writes get 507); default: the store's. */
  readonly minFreeBytes?: number;
  /** Log bytes between checkpoints of the applied state; absent: scaled to the state. */
  readonly checkpointBytes?: number;
  /** Mutual TLS on the peer port (the bootstrap role is added here); absent: plaintext. */
  readonly peerTls?: Omit<PeerTlsInit, 'roles'>;
  /** HTTPS on the client port; absent: plain HTTP. */
  readonly httpTls?: HttpTls;
  /** Bearer tokens for the client port; absent: no tokens asked for. */
  readonly tokens?: AccessTokens;
  /** The HTTP edge's limits, where they differ from components/limits.ts. */
  readonly httpLimits?: Partial<HttpLimits>;
  /** The quota of this node's group (key and value bytes); default limits.ts DEFAULT_QUOTA_BYTES. */
  readonly quotaBytes?: number;
  /** `--fault-injection`: peer traffic can be cut through `/admin/faults` (test harnesses). */
  readonly faultInjection?: boolean;
  /** How much change history the replica keeps for watchers; default node-defaults.ts. */
  readonly watchHistory?: Partial<HistoryLimits>;
}
