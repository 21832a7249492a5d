import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { terminate } from '../../client/process-exit.js';

/** A 3-node cluster of another system on loopback, for side-by-side benchmarks. */
export interface ExternalCluster {
  readonly name: 'etcd' | 'zookeeper';
  /** Client endpoints (etcd: http URLs; ZooKeeper: host:port). */
  readonly endpoints: string[];
  readonly processes: ChildProcess[];
  stop(): Promise<void>;
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

/** etcd from Debian (`etcd-server`), 3 members, default settings (fsync on every commit). */
export async function startEtcd(dir: string, firstClientPort = 23_791): Promise<ExternalCluster> {
  const members = [0, 1, 2].map((i) => ({
    name: `e${i + 1}`,
    client: firstClientPort + i,
    peer: firstClientPort + 10 + i,
  }));
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  mkdirSync(dir, { recursive: true });
  const processes = members.map((m) => {
    const log = openSync(join(dir, `${m.name}.log`), 'a');
    return spawn(
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
    );
  });
  await Promise.all(members.map((m) => untilPortOpen(m.client, 30_000)));
  return {
    name: 'etcd',
    endpoints: members.map((m) => `http://127.0.0.1:${m.client}`),
    processes,
    stop: () => terminate(processes),
  };
}

/** ZooKeeper from Debian (`zookeeper`), a 3-server ensemble, default settings (forceSync=yes). */
export async function startZooKeeper(
  dir: string,
  firstClientPort = 21_811,
): Promise<ExternalCluster> {
  const servers = [1, 2, 3];
  const lines = servers.map(
    (id) => `server.${id}=127.0.0.1:${firstClientPort + 100 + id}:${firstClientPort + 200 + id}`,
  );
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
    const log = openSync(join(home, 'server.log'), 'a');
    return spawn(
      'java',
      [
        '-Xmx512m',
        `-Dzookeeper.log.dir=${home}`,
        '-cp',
        '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar',
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        config,
      ],
      { stdio: ['ignore', log, log] },
    );
  });
  await Promise.all(servers.map((id) => untilPortOpen(firstClientPort + id - 1, 60_000)));
  return {
    name: 'zookeeper',
    endpoints: servers.map((id) => `127.0.0.1:${firstClientPort + id - 1}`),
    processes,
    stop: () => terminate(processes),
  };
}
