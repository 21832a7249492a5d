import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killOnExit, terminate } from '../../client/process-exit.js';

/** A 3-node cluster of another system on loopback, for side-by-side benchmarks. */
export interface ExternalCluster {
  readonly name: 'etcd' | 'zookeeper';
  /** Client endpoints (etcd: http URLs; ZooKeeper: host:port). */
  readonly endpoints: string[];
  readonly processes: ChildProcess[];
  stop(): Promise<void>;
}

/** Members still running this long after SIGTERM get SIGKILL (a JVM stuck in GC). */
const STOP_GRACE_MS = 15_000;

/**
 * Waits for every client port. A process that exits meanwhile (a port already taken) fails
 * the start at once, naming its log; on any failure all of them are stopped before the error
 * propagates, so none outlives the benchmark.
 */
async function untilStarted(
  processes: readonly ChildProcess[],
  logs: readonly string[],
  ports: readonly number[],
  timeoutMs: number,
): Promise<void> {
  const exited = processes.map(
    (p, i) =>
      new Promise<never>((_, reject) =>
        p.once('exit', (code, signal) =>
          reject(new Error(`exited (${signal ?? code}) while starting; see ${logs[i]}`)),
        ),
      ),
  );
  const opened = Promise.all(ports.map((port) => untilPortOpen(port, timeoutMs)));
  try {
    await Promise.race([opened, ...exited]);
  } catch (error) {
    await terminate(processes, STOP_GRACE_MS);
    throw error;
  } finally {
    // The losing promises: their rejections are expected, not unhandled.
    for (const e of exited) e.catch(() => {});
    opened.catch(() => {});
  }
}

async function untilPortOpen(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open in ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** The reply of ZooKeeper's `srvr` four-letter command on `port` ('' when it cannot connect). */
function srvr(port: number): Promise<string> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = connect(port, '127.0.0.1', () => socket.end('srvr'));
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    socket.on('close', () => resolve(reply));
    socket.on('error', () => resolve(''));
  });
}

/**
 * A server's client port opens before the ensemble has elected a leader; until then it drops
 * every session (and the client logs each drop), so wait until it says it leads or follows.
 */
async function untilServing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await srvr(port)).includes('Mode:')) {
    if (Date.now() > deadline)
      throw new Error(`ZooKeeper on port ${port} not serving after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** etcd from Debian (`etcd-server`), 3 members, default settings (fsync on every commit). */
export async function startEtcd(dir: string, firstClientPort = 23_791): Promise<ExternalCluster> {
  const members = [0, 1, 2].map((i) => ({
    name: `e${i + 1}`,
    client: firstClientPort + i,
    peer: firstClientPort + 10 + i,
  }));
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  mkdirSync(dir, { recursive: true });
  const logs = members.map((m) => join(dir, `${m.name}.log`));
  const processes = members.map((m, i) => {
    const log = openSync(logs[i]!, 'a');
    return killOnExit(
      spawn(
        'etcd',
        [
          '--name',
          m.name,
          '--data-dir',
          join(dir, m.name),
          '--listen-client-urls',
          `http://127.0.0.1:${m.client}`,
          '--advertise-client-urls',
          `http://127.0.0.1:${m.client}`,
          '--listen-peer-urls',
          `http://127.0.0.1:${m.peer}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${m.peer}`,
          '--initial-cluster',
          initial,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          'zabkv-bench',
        ],
        { stdio: ['ignore', log, log] },
      ),
    );
  });
  await untilStarted(
    processes,
    logs,
    members.map((m) => m.client),
    30_000,
  );
  return {
    name: 'etcd',
    endpoints: members.map((m) => `http://127.0.0.1:${m.client}`),
    processes,
    stop: () => terminate(processes, STOP_GRACE_MS),
  };
}

/** ZooKeeper from Debian (`zookeeper`), a 3-server ensemble, default settings (forceSync=yes). */
export async function startZooKeeper(
  dir: string,
  firstClientPort = 21_811,
  heapMiB = 512,
): Promise<ExternalCluster> {
  const servers = [1, 2, 3];
  const lines = servers.map(
    (id) => `server.${id}=127.0.0.1:${firstClientPort + 100 + id}:${firstClientPort + 200 + id}`,
  );
  const logs = servers.map((id) => join(dir, `zk${id}`, 'server.log'));
  const processes = servers.map((id) => {
    const home = join(dir, `zk${id}`);
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'myid'), `${id}\n`);
    const config = join(home, 'zoo.cfg');
    writeFileSync(
      config,
      [
        'tickTime=2000',
        'initLimit=10',
        'syncLimit=5',
        `dataDir=${home}`,
        `clientPort=${firstClientPort + id - 1}`,
        'clientPortAddress=127.0.0.1',
        'admin.enableServer=false',
        '4lw.commands.whitelist=*',
        ...lines,
      ].join('\n') + '\n',
    );
    const log = openSync(logs[id - 1]!, 'a');
    return killOnExit(
      spawn(
        'java',
        [
          `-Xmx${heapMiB}m`,
          `-Dzookeeper.log.dir=${home}`,
          // Debian's zookeeper.jar has no slf4j binding, so without slf4j-simple it logs nothing,
          // not even why it did not start.
          '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
          '-cp',
          '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar',
          'org.apache.zookeeper.server.quorum.QuorumPeerMain',
          config,
        ],
        { stdio: ['ignore', log, log] },
      ),
    );
  });
  await untilStarted(
    processes,
    logs,
    servers.map((id) => firstClientPort + id - 1),
    60_000,
  );
  try {
    await Promise.all(servers.map((id) => untilServing(firstClientPort + id - 1, 60_000)));
  } catch (error) {
    await terminate(processes, STOP_GRACE_MS);
    throw error;
  }
  return {
    name: 'zookeeper',
    endpoints: servers.map((id) => `127.0.0.1:${firstClientPort + id - 1}`),
    processes,
    stop: () => terminate(processes, STOP_GRACE_MS),
  };
}
