import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster, httpUrl, type LocalClusterOptions } from '../client/local-cluster.js';
import { InUse, checkFree, logTail } from '../client/start-checks.js';

/** Where `zabkv start` says which nodes it runs (`zabkv bench` finds the cluster there). */
export const STATE_FILE = 'cluster.json';

export interface StartFlags {
  readonly restartFailed: boolean;
}

/** How long a node restarted by --restart-failed waits first (a crash loop stays slow). */
const RESTART_DELAY_MS = 1_000;

/**
 * `zabkv start`: refuses data directories and ports in use, starts the nodes, and supervises
 * them. A node that exits before the cluster is ready stops the others and `start` exits 1
 * with the tail of its log; one that exits later is reported the same way, and restarted
 * with --restart-failed. Ctrl-C (or SIGTERM) stops every node and exits 0.
 */
export async function startCommand(options: LocalClusterOptions, flags: StartFlags): Promise<void> {
  try {
    await checkFree(options);
  } catch (error) {
    if (error instanceof InUse) fail(`cannot start: ${error.message}`);
    throw error;
  }
  const cluster = new LocalCluster(options);
  const stateFile = join(options.dataDir, STATE_FILE);
  let phase: 'booting' | 'running' | 'stopping' = 'booting';
  let bootFailed: (message: string) => void = () => {};
  const bootFailure = new Promise<never>((_, reject) => {
    bootFailed = (message) => reject(new Error(message));
  });
  cluster.onNodeExit = (node, code, signal) => {
    if (phase === 'stopping') return;
    const how = signal === null ? `with code ${code}` : `on ${signal}`;
    const report = `node ${node} exited ${how}; the end of ${cluster.logPath(node)}:\n${indent(logTail(cluster.logPath(node)))}`;
    if (phase === 'booting') {
      bootFailed(report);
      return;
    }
    console.error(`\n${report}`);
    if (!flags.restartFailed) {
      console.error(
        `the other nodes go on; \`zabkv start --restart-failed\` restarts nodes that exit`,
      );
      return;
    }
    console.error(`restarting node ${node} in ${RESTART_DELAY_MS / 1000} s…`);
    void sleep(RESTART_DELAY_MS).then(() => {
      if (phase === 'running') cluster.startNode(node);
    });
  };
  const stop = (code: number, message?: string) => {
    if (phase === 'stopping') return;
    phase = 'stopping';
    if (message !== undefined) console.error(message);
    console.log('\nstopping all nodes…');
    void cluster.stop().then(() => {
      rmSync(stateFile, { force: true });
      console.log('all nodes stopped; `npm start` again reuses the data');
      process.exit(code);
    });
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  try {
    cluster.start();
  } catch (error) {
    fail(`cannot start: ${(error as Error).message}`);
  }
  console.log(`starting ${options.nodes} nodes (logs in ${options.dataDir}/node-<n>.log)…`);
  if (options.tlsDir !== undefined) {
    console.log(`mutual TLS between the nodes, certificates in ${options.tlsDir}`);
  }
  try {
    await Promise.race([cluster.ready(60_000), bootFailure]);
  } catch (error) {
    stop(1, `cannot start: ${(error as Error).message}`);
    return;
  }
  phase = 'running';
  const url = (n: number) => httpUrl(options, Math.min(n, options.nodes));
  const endpoints = Array.from({ length: options.nodes }, (_, i) => url(i + 1));
  writeFileSync(stateFile, `${JSON.stringify({ pid: process.pid, endpoints }, null, 2)}\n`);
  for (let n = 1; n <= options.nodes; n++) console.log(`  node ${n}: ${url(n)}`);
  printBanner(url);
}

function printBanner(url: (n: number) => string): void {
  console.log(`\nDashboard (any node serves it): ${url(1)}/ui`);
  console.log(
    [
      '',
      'Every node accepts every key. Try:',
      `  curl -i -X PUT ${url(1)}/kv/hello -d 'world'`,
      `  curl -i ${url(4)}/kv/hello`,
      `  curl -i -X PUT ${url(2)}/kv/hello -H 'If-Match: "<version from the ETag>"' -d 'again'`,
      `  curl -i -X PUT ${url(3)}/kv/new -H 'If-None-Match: *' -d 'only if absent'`,
      `  curl -i -X DELETE ${url(5)}/kv/hello`,
      `  curl -s ${url(6)}/cluster`,
      `  npx zabkv status        npx zabkv put k v        npx zabkv get k`,
      '',
      'Ctrl-C stops every node cleanly.',
    ].join('\n'),
  );
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `  | ${line}`)
    .join('\n');

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(1);
}
