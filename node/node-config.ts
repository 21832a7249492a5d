import { readFileSync } from 'node:fs';
import { DEFAULT_QUOTA_BYTES, MAX_CLIENT_CONNECTIONS_COUNT } from '../components/limits.js';
import { nodeId, type NodeId } from '../components/network/node-id.js';
import type { StoreKind } from '../components/storage/disk-store.js';
import type { BootstrapRole, Endpoint } from './node-host-init.js';

/** A node's settings, from flags, then environment variables (ZABKV_*), then a config file. */
export interface NodeConfig {
  readonly id: NodeId;
  readonly peer: Endpoint;
  readonly http: Endpoint;
  readonly dataDir: string;
  readonly clusterId: string;
  readonly bootstrap: BootstrapRole;
  /** The log's store: `wal` (append-only segments, the default) or `lmdb`. */
  readonly storage: StoreKind;
  /** Mutual TLS on the peer port from this directory (node/peer-tls-files.ts); absent: off. */
  readonly tlsDir?: string;
  /** HTTPS on the client port; absent: plain HTTP. */
  readonly httpTls?: HttpTlsFiles;
  /** Bearer tokens for the client port (frontend/access-tokens.ts); absent: no tokens. */
  readonly tokenFile?: string;
  /** The data (key and value bytes) of this node's group past which growing writes get 507. */
  readonly quotaBytes: number;
  /** Open client connections this node accepts; more are closed at once. */
  readonly maxClientConnections: number;
  /** Free disk space below which writes get 507; absent: the store's default. */
  readonly minFreeBytes?: number;
  /** Commits between trims of the log in memory (ZooKeeper's snapCount); absent: 50,000. */
  readonly snapshotCount?: number;
  /** Log bytes between checkpoints (copies) of the applied state; absent: scaled to the state. */
  readonly checkpointBytes?: number;
  /** `/admin/faults` drops peer traffic on request (test harnesses only). */
  readonly faultInjection?: true;
  /** Slow turns also report their time on the CPU (diagnostics: a file read per turn). */
  readonly measureTurnCpu?: true;
  /** Applied entries (with changes) each replica keeps for watchers; absent: node-defaults.ts. */
  readonly watchHistoryEntries?: number;
  /** Bytes of changes each replica keeps for watchers; absent: node-defaults.ts. */
  readonly watchHistoryBytes?: number;
}

/** etcd's client TLS flags: --cert-file, --key-file, --trusted-ca-file, --client-cert-auth. */
export interface HttpTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Verifies client certificates; required by, and used only with, `clientCertAuth`. */
  readonly trustedCaFile?: string;
  readonly clientCertAuth: boolean;
}

/** What may be given, by flag, environment or file: every value as text. */
export interface RawNodeSettings {
  id?: string;
  peer?: string;
  http?: string;
  data?: string;
  clusterId?: string;
  bootstrap?: string;
  bootstrapServer?: boolean | string;
  clusterSize?: string;
  replication?: string;
  storage?: string;
  tlsDir?: string;
  certFile?: string;
  keyFile?: string;
  trustedCaFile?: string;
  clientCertAuth?: boolean | string;
  tokenFile?: string;
  quotaBytes?: string;
  maxClientConnections?: string;
  minFreeBytes?: string;
  snapshotCount?: string;
  checkpointBytes?: string;
  faultInjection?: boolean | string;
  measureTurnCpu?: boolean | string;
  watchHistoryEntries?: string;
  watchHistoryBytes?: string;
  config?: string;
}

const ENVIRONMENT: Record<keyof Omit<RawNodeSettings, 'config'>, string> = {
  id: 'ZABKV_ID',
  peer: 'ZABKV_PEER',
  http: 'ZABKV_HTTP',
  data: 'ZABKV_DATA',
  clusterId: 'ZABKV_CLUSTER_ID',
  bootstrap: 'ZABKV_BOOTSTRAP',
  bootstrapServer: 'ZABKV_BOOTSTRAP_SERVER',
  clusterSize: 'ZABKV_CLUSTER_SIZE',
  replication: 'ZABKV_REPLICATION',
  storage: 'ZABKV_STORAGE',
  tlsDir: 'ZABKV_TLS_DIR',
  certFile: 'ZABKV_CERT_FILE',
  keyFile: 'ZABKV_KEY_FILE',
  trustedCaFile: 'ZABKV_TRUSTED_CA_FILE',
  clientCertAuth: 'ZABKV_CLIENT_CERT_AUTH',
  tokenFile: 'ZABKV_TOKEN_FILE',
  quotaBytes: 'ZABKV_QUOTA_BYTES',
  maxClientConnections: 'ZABKV_MAX_CLIENT_CONNECTIONS',
  minFreeBytes: 'ZABKV_MIN_FREE_BYTES',
  snapshotCount: 'ZABKV_SNAPSHOT_COUNT',
  checkpointBytes: 'ZABKV_CHECKPOINT_BYTES',
  faultInjection: 'ZABKV_FAULT_INJECTION',
  measureTurnCpu: 'ZABKV_MEASURE_TURN_CPU',
  watchHistoryEntries: 'ZABKV_WATCH_HISTORY_ENTRIES',
  watchHistoryBytes: 'ZABKV_WATCH_HISTORY_BYTES',
};

export class ConfigError extends Error {}

export function parseEndpoint(text: string, what: string): Endpoint {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port < 0 || port > 65_535) {
    throw new ConfigError(`${what} must be host:port, got ${JSON.stringify(text)}`);
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

function positiveInteger(text: string | undefined, what: string): number {
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`${what} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

const UNITS: Record<string, number> = { '': 1, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 };

/** A size in bytes: a positive integer, optionally with KiB, MiB or GiB. */
function byteSize(text: string, what: string): number {
  const match = /^(\d+)\s*(|KiB|MiB|GiB)$/i.exec(text.trim());
  const bytes = match === null ? NaN : Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new ConfigError(
      `${what} must be a size such as 67108864 or 64MiB, got ${JSON.stringify(text)}`,
    );
  }
  return bytes;
}

function isOn(value: boolean | string | undefined): boolean {
  return value === true || value === 'true' || value === '1';
}

function httpTlsFiles(
  text: (key: 'certFile' | 'keyFile' | 'trustedCaFile') => string | undefined,
  clientCertAuth: boolean,
): HttpTlsFiles | undefined {
  const [certFile, keyFile, trustedCaFile] = [
    text('certFile'),
    text('keyFile'),
    text('trustedCaFile'),
  ];
  if (certFile === undefined && keyFile === undefined) {
    if (clientCertAuth || trustedCaFile !== undefined) {
      throw new ConfigError(
        '--client-cert-auth and --trusted-ca-file need --cert-file and --key-file',
      );
    }
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError('HTTPS needs both --cert-file and --key-file');
  }
  if (clientCertAuth !== (trustedCaFile !== undefined)) {
    throw new ConfigError('--client-cert-auth and --trusted-ca-file go together');
  }
  return {
    certFile,
    keyFile,
    clientCertAuth,
    ...(trustedCaFile === undefined ? {} : { trustedCaFile }),
  };
}

export function resolveNodeConfig(
  flags: RawNodeSettings,
  env: NodeJS.ProcessEnv = process.env,
): NodeConfig {
  const file: RawNodeSettings =
    flags.config === undefined
      ? {}
      : (JSON.parse(readFileSync(flags.config, 'utf8')) as RawNodeSettings);
  const pick = <K extends keyof typeof ENVIRONMENT>(key: K): RawNodeSettings[K] => {
    const fromEnv = env[ENVIRONMENT[key]];
    return flags[key] ?? (fromEnv as RawNodeSettings[K] | undefined) ?? file[key];
  };
  const text = (key: keyof typeof ENVIRONMENT): string | undefined => {
    const value = pick(key);
    return value === undefined ? undefined : String(value);
  };
  const id = positiveInteger(text('id'), '--id');
  if (text('peer') === undefined) throw new ConfigError('--peer <host:port> is required');
  if (text('http') === undefined) throw new ConfigError('--http <host:port> is required');
  if (text('data') === undefined) throw new ConfigError('--data <dir> is required');
  const isServer = isOn(pick('bootstrapServer'));
  const bootstrapAddress = text('bootstrap');
  if (isServer === (bootstrapAddress !== undefined)) {
    throw new ConfigError(
      'give either --bootstrap-server (with --cluster-size, --replication) or --bootstrap <host:port>',
    );
  }
  const storage = text('storage') ?? 'wal';
  if (storage !== 'wal' && storage !== 'lmdb') {
    throw new ConfigError(`--storage must be wal or lmdb, got ${JSON.stringify(storage)}`);
  }
  const httpTls = httpTlsFiles(text, isOn(pick('clientCertAuth')));
  const tokenFile = text('tokenFile');
  const tlsDir = text('tlsDir');
  const minFreeBytes = text('minFreeBytes');
  const snapshotCount = text('snapshotCount');
  const checkpointBytes = text('checkpointBytes');
  const watchEntries = text('watchHistoryEntries');
  const watchBytes = text('watchHistoryBytes');
  return {
    id: nodeId(id),
    storage,
    ...(isOn(pick('faultInjection')) ? { faultInjection: true } : {}),
    ...(isOn(pick('measureTurnCpu')) ? { measureTurnCpu: true } : {}),
    ...(tlsDir === undefined ? {} : { tlsDir }),
    ...(httpTls === undefined ? {} : { httpTls }),
    ...(tokenFile === undefined ? {} : { tokenFile }),
    ...(minFreeBytes === undefined
      ? {}
      : { minFreeBytes: byteSize(minFreeBytes, '--min-free-bytes') }),
    ...(snapshotCount === undefined
      ? {}
      : { snapshotCount: positiveInteger(snapshotCount, '--snapshot-count') }),
    ...(checkpointBytes === undefined
      ? {}
      : { checkpointBytes: byteSize(checkpointBytes, '--checkpoint-bytes') }),
    ...(watchEntries === undefined
      ? {}
      : { watchHistoryEntries: positiveInteger(watchEntries, '--watch-history-entries') }),
    ...(watchBytes === undefined
      ? {}
      : { watchHistoryBytes: byteSize(watchBytes, '--watch-history-bytes') }),
    quotaBytes: byteSize(text('quotaBytes') ?? String(DEFAULT_QUOTA_BYTES), '--quota-bytes'),
    maxClientConnections: positiveInteger(
      text('maxClientConnections') ?? String(MAX_CLIENT_CONNECTIONS_COUNT),
      '--max-client-connections',
    ),
    peer: parseEndpoint(text('peer')!, '--peer'),
    http: parseEndpoint(text('http')!, '--http'),
    dataDir: text('data')!,
    clusterId: text('clusterId') ?? 'zabkv',
    bootstrap: isServer
      ? serverRole(text('clusterSize'), text('replication'))
      : { role: 'client', server: parseEndpoint(bootstrapAddress!, '--bootstrap') },
  };
}

/** The bootstrap node's shape of the cluster: every group needs `replication` nodes. */
function serverRole(clusterSize: string | undefined, replication: string | undefined) {
  const size = positiveInteger(clusterSize, '--cluster-size');
  const replicas = positiveInteger(replication ?? '3', '--replication');
  if (replicas > size) {
    throw new ConfigError(`--replication ${replicas} needs a --cluster-size of at least that`);
  }
  return { role: 'server' as const, clusterSize: size, replication: replicas };
}
