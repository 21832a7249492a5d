import type { NodeId } from '../components/network/node-id.js';
import { ScriptedRun } from './scripted-run.js';

/**
 * What `npm start` shows until the networked cluster exists: a simulated 5-replica ZAB group
 * with eight clients, through a leader crash, the old leader cut off from its group, and a
 * whole-group crash, in virtual time. Every operation the clients saw is then checked for
 * linearizability. The run is a function of its seed.
 */
export function runDemo(seed: number, print: (line: string) => void): void {
  const run = new ScriptedRun({ seed, size: 5 }, 8);
  const { cluster, sim } = run;
  const at = (): string => `t=${(sim.now / 1000).toFixed(3)}s`;
  const leaderLine = (leader: NodeId): string =>
    `${at()}  node ${leader} leads epoch ${cluster.replica(leader)!.durableState.currentEpoch}`;
  print(`zabkv simulated demo: one ZAB group of 5 replicas, 8 clients, seed ${seed}`);
  print(leaderLine(run.awaitLeader()));
  run.startClients();
  sim.runFor(1_000);
  const first = cluster.leader()!;
  print(`${at()}  crash the leader, node ${first} (kill -9; its unsynced writes are lost)`);
  cluster.crash(first);
  print(leaderLine(run.awaitLeader((id) => id !== first)));
  sim.runFor(500);
  cluster.restart(first);
  sim.runFor(1_000);
  const second = cluster.leader()!;
  print(`${at()}  cut node ${second} (the leader) off from the group; its clients keep calling it`);
  run.isolate(second);
  print(leaderLine(run.awaitLeader((id) => id !== second)));
  sim.runFor(1_000);
  print(`${at()}  heal the partition`);
  sim.fabric.heal();
  sim.runFor(1_000);
  print(`${at()}  crash all five replicas at once, then restart them`);
  for (const id of cluster.ids) cluster.crash(id);
  for (const id of cluster.ids) cluster.restart(id);
  print(leaderLine(run.awaitLeader()));
  sim.runFor(1_000);
  const verdict = run.finish();
  const { ok, unavailable, unknown } = cluster.counts;
  print(
    `${at()}  done: ${ok} operations answered, ${unavailable} refused with 503 (did not happen), ` +
      `${unknown} with unknown outcome (504 or node crashed)`,
  );
  const digests = new Set(cluster.digests().values());
  print(`replicas converged: ${digests.size === 1 ? 'yes, identical state digests' : 'NO'}`);
  print(`linearizability of all ${cluster.history.length} recorded operations: ${verdict}`);
  print(`trace sha256 ${sim.trace.digest().slice(0, 16)}…; replay: npx zabkv demo --seed ${seed}`);
}
