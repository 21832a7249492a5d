import { DEFAULT_REPLICA_TIMING } from '../replica/replica-config.js';
import { randomInt } from 'node:crypto';
import { pino } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ComponentSystem, LiveScheduler } from '../components/kernel/index.js';
import { makePrivateDirectory, privateDirectoryWarning } from '../components/private-file.js';
import type { LookupTable } from '../bootstrap/lookup-table.js';
import { lockDataDir } from './data-dir-lock.js';
import { EXCLUDED_EXIT_MS } from './node-defaults.js';
import { loadHttpSecurity } from './http-security.js';
import { NodeHost } from './node-host.js';
import { watchGcPauses } from './gc-pauses.js';
import { slowTurnWatch } from './slow-turns.js';
import { openThreadTimes } from './thread-times.js';
import type { NodeConfig } from './node-config.js';
import { loadPeerTls } from './peer-tls-files.js';
import { loadTable, saveTable } from './table-file.js';
import {
  checkInNonce,
  forgetCheckInNonce,
  loadFormation,
  saveFormation,
} from './formation-files.js';

/** Runs one node in this process until SIGTERM/SIGINT, then stops it cleanly and exits 0. */
export async function runNode(config: NodeConfig): Promise<void> {
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'info' });
  // Before anything starts: an unusable certificate or token file stops the node here.
  const security = loadHttpSecurity(config);
  // Everything this process creates is private to its user: the data directory 0700 and its
  // files 0600, whichever store writes them (lmdb included).
  process.umask(0o077);
  const peerTls =
    config.tlsDir === undefined
      ? undefined
      : loadPeerTls(config.tlsDir, config.id, config.clusterId, config.bootstrap.role === 'server');
  makePrivateDirectory(config.dataDir);
  // Before anything in the directory is read: a second node on it stops here (DataDirInUse).
  lockDataDir(config.dataDir);
  const loose = privateDirectoryWarning(config.dataDir);
  if (loose !== null) logger.warn(loose);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gcPauses = watchGcPauses(registry);
  const threadTimes = config.measureTurnCpu === true ? openThreadTimes() : null;
  if (config.measureTurnCpu === true && threadTimes === null) {
    logger.warn('--measure-turn-cpu: no /proc/thread-self/schedstat here, turns are not measured');
  }
  let saved = loadTable(config.dataDir);
  const system = new ComponentSystem({
    scheduler: new LiveScheduler({
      slowTurns: slowTurnWatch(registry, logger, {
        gc: gcPauses,
        ...(threadTimes === null ? {} : { threadClock: threadTimes.read }),
      }),
    }),
    logger,
    onRootFault: (fault) => {
      logger.fatal({ err: fault.error }, 'node failed: exiting');
      process.exit(1);
    },
  });
  const host = system.createRoot(NodeHost, {
    self: config.id,
    clusterId: config.clusterId,
    peer: config.peer,
    http: config.http,
    dataDir: config.dataDir,
    storage: config.storage,
    ...(config.minFreeBytes === undefined ? {} : { minFreeBytes: config.minFreeBytes }),
    ...(config.checkpointBytes === undefined ? {} : { checkpointBytes: config.checkpointBytes }),
    ...(config.snapshotCount === undefined
      ? {}
      : {
          timing: {
            snapshotEvery: config.snapshotCount,
            retainEntries: Math.min(config.snapshotCount, DEFAULT_REPLICA_TIMING.retainEntries),
          },
        }),
    bootstrap: config.bootstrap,
    savedTable: saved,
    // Until the table comes: a restart meanwhile checks in as the same founding member.
    ...(saved === null ? { checkInNonce: checkInNonce(config.dataDir) } : {}),
    ...(config.bootstrap.role === 'server'
      ? {
          formation: {
            saved: loadFormation(config.dataDir),
            save: (formation) => saveFormation(config.dataDir, formation),
          },
        }
      : {}),
    onExcluded: () => {
      // Nothing to serve and nothing to wait for: exit non-zero so a supervisor notices.
      logger.error({ exitInMs: EXCLUDED_EXIT_MS }, 'not a member of this cluster: exiting');
      setTimeout(() => {
        logger.flush();
        process.exit(3);
      }, EXCLUDED_EXIT_MS).unref();
    },
    saveTable: (table: LookupTable) => {
      if (saved !== null && saved.version >= table.version) return;
      saveTable(config.dataDir, table);
      saved = table;
      // Kept only until the table came (formation-files.ts): a restart now needs no check-in.
      forgetCheckInNonce(config.dataDir);
    },
    registry,
    seed: randomInt(2 ** 31),
    ...(peerTls === undefined ? {} : { peerTls }),
    quotaBytes: config.quotaBytes,
    faultInjection: config.faultInjection === true,
    watchHistory: {
      ...(config.watchHistoryEntries === undefined
        ? {}
        : { maxEntries: config.watchHistoryEntries }),
      ...(config.watchHistoryBytes === undefined ? {} : { maxBytes: config.watchHistoryBytes }),
    },
    httpLimits: { maxConnections: config.maxClientConnections },
    ...(security.tls === undefined ? {} : { httpTls: security.tls }),
    ...(security.tokens === undefined ? {} : { tokens: security.tokens }),
  });
  host.start();
  const [httpPort, peerPort] = await Promise.all([
    host.frontend.whenListening(),
    host.network.whenListening(),
  ]);
  logger.info(
    {
      node: config.id,
      http: httpPort,
      peer: peerPort,
      https: security.tls !== undefined,
      tokens: security.tokens?.size ?? 0,
      quotaBytes: config.quotaBytes,
    },
    'listening',
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    void host.shutdown(5_000).then(() => {
      logger.info('stopped');
      logger.flush();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
