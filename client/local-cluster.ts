import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { makePrivateDirectory, PRIVATE_FILE_MODE } from '../components/private-file.js';
import { makeClusterCerts } from './cluster-certs.js';
import { killOnExit, terminate } from './process-exit.js';

export interface LocalClusterOptions {
  readonly nodes: number;
  readonly replication: number;
  readonly dataDir: string;
  readonly firstHttpPort: number;
  readonly firstPeerPort: number;
  /** The CLI to run nodes with (default: the one next to this file). */
  readonly cli?: string;
  /** Extra environment for the nodes (e.g. LOG_LEVEL). */
  readonly env?: NodeJS.ProcessEnv;
  /** Node.js flags for the node processes (e.g. --cpu-prof), after NODE_RUNTIME_FLAGS. */
  readonly nodeFlags?: readonly string[];
  /**
   * Mutual TLS on the peer port, with the certificates in this directory; those missing are
   * made first (`zabkv certs`), so `start --tls` works on an empty data directory.
   */
  readonly tlsDir?: string;
}

/** The cluster id of a local cluster (the nodes' default). */
export const LOCAL_CLUSTER_ID = 'zabkv';

/**
 * V8 flags every node process runs with (README.md says how to set them for nodes started by hand).
 * A young generation of 32 MiB semi-spaces, not V8's 16: a write's objects live as long as its
 * round trip through the group (~10 ms at 64 clients), and 16 MiB filled several times in that,
 * so scavenges copied the writes in flight again and again. Measured on kept 10k-key data, 64
 * writers, 30 s runs after 15 s, three sizes interleaved (2026-12-03): the three nodes' CPU per
 * write 16 MiB 213-222 us, 32 MiB 208-214, 64 MiB 207-209; p99.9 40-43, 44, 49-50 ms; GC
 * pauses over 20 ms in 30 s 0-2, 0-3, 18-28 (each scavenge of a bigger space takes longer).
 * 32 takes most of the CPU and leaves the pauses as they were.
 * Passed first, so a flag in `nodeFlags` overrides it (V8 takes the last).
 */
export const NODE_RUNTIME_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

const CLI = fileURLToPath(new URL('../cli/cli.js', import.meta.url));

export function httpUrl(options: LocalClusterOptions, node: number): string {
  return `http://127.0.0.1:${options.firstHttpPort + node - 1}`;
}

/**
 * A local cluster: one OS process per node on loopback, node 1 the bootstrap node, each
 * with its data and log under `dataDir`. Starting again reuses the data (and the persisted
 * lookup table), so nothing is lost across restarts.
 */
export class LocalCluster {
  private readonly children = new Map<number, ChildProcess>();
  /** Called when a node's process exits, whoever ended it (`zabkv start` supervises with it). */
  onNodeExit: ((node: number, code: number | null, signal: string | null) => void) | null = null;

  constructor(readonly options: LocalClusterOptions) {}

  start(): void {
    makePrivateDirectory(this.options.dataDir);
    const tlsDir = this.options.tlsDir;
    if (tlsDir !== undefined) {
      makeClusterCerts({
        out: tlsDir,
        nodes: this.options.nodes,
        clusterId: LOCAL_CLUSTER_ID,
        bootstrapNode: 1,
        days: 825,
      });
    }
    for (let node = 1; node <= this.options.nodes; node++) this.startNode(node);
  }

  /**
   * Starts node `node`. Its previous process must have exited (see `kill`): two processes on
   * one data directory and one pair of ports would race for both.
   */
  startNode(node: number): ChildProcess {
    const previous = this.children.get(node);
    if (previous !== undefined && isRunning(previous)) {
      throw new Error(`node ${node} (pid ${previous.pid}) is still running; await kill() first`);
    }
    const { dataDir, firstHttpPort, firstPeerPort, nodes, replication } = this.options;
    const role =
      node === 1
        ? [
            '--bootstrap-server',
            '--cluster-size',
            String(nodes),
            '--replication',
            String(replication),
          ]
        : ['--bootstrap', `127.0.0.1:${firstPeerPort}`];
    const log = openSync(this.logPath(node), 'a', PRIVATE_FILE_MODE);
    const child = spawn(
      process.execPath,
      [
        ...NODE_RUNTIME_FLAGS,
        ...(this.options.nodeFlags ?? []),
        this.options.cli ?? CLI,
        'node',
        '--id',
        String(node),
        '--peer',
        `127.0.0.1:${firstPeerPort + node - 1}`,
        '--http',
        `127.0.0.1:${firstHttpPort + node - 1}`,
        '--data',
        join(dataDir, `node-${node}`),
        ...role,
        ...(this.options.tlsDir === undefined ? [] : ['--tls-dir', this.options.tlsDir]),
      ],
      { stdio: ['ignore', log, log], env: { ...process.env, ...this.options.env } },
    );
    this.children.set(node, killOnExit(child));
    child.once('exit', (code, signal) => {
      if (this.children.get(node) === child) this.children.delete(node);
      this.onNodeExit?.(node, code, signal);
    });
    return child;
  }

  /** Sends `signal` to node `node` and resolves once its process has exited. */
  async kill(node: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.children.get(node);
    if (child === undefined || !isRunning(child)) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Kills node `node` with `signal`, waits for its exit, and starts it again. */
  async restartNode(node: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<ChildProcess> {
    await this.kill(node, signal);
    return this.startNode(node);
  }

  /** Where node `node`'s output goes. */
  logPath(node: number): string {
    return join(this.options.dataDir, `node-${node}.log`);
  }

  process(node: number): ChildProcess | undefined {
    return this.children.get(node);
  }

  /** Resolves when every node answers /readyz with 200 (its group has a leader). */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let node = 1; node <= this.options.nodes; node++) {
      for (;;) {
        const answer = await readiness(httpUrl(this.options, node));
        if (answer === true) break;
        if (Date.now() > deadline) {
          // Why it was not ready, so that a process that died and one without a leader differ.
          const child = this.children.get(node);
          const exited =
            child === undefined
              ? '; its process has exited'
              : isRunning(child)
                ? ''
                : `; its process exited (${child.exitCode ?? child.signalCode})`;
          throw new Error(
            `node ${node} not ready after ${timeoutMs} ms (last probe: ${answer}${exited})`,
          );
        }
        await sleep(50);
      }
    }
  }

  /** SIGTERM to every node; resolves when all have exited. */
  stop(): Promise<void> {
    return terminate(this.children.values());
  }
}

// A process killed by a signal has a null exitCode and a signalCode instead.
function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Whether the node at `url` answers /readyz with 200. */
export async function isReady(url: string): Promise<boolean> {
  return (await readiness(url)) === true;
}

/** True when the node at `url` answers /readyz with 200, else what it answered or the error. */
async function readiness(url: string): Promise<true | string> {
  try {
    const response = await request(`${url}/readyz`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
    const body = await response.body.text();
    return response.statusCode === 200 || `${response.statusCode} ${body.slice(0, 200)}`;
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const code =
      (cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
    return `${error instanceof Error ? error.message : String(error)}${code === undefined ? '' : ` (${String(code)})`}`;
  }
}
