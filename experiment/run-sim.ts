import { nodeId, type NodeId } from '../components/network/node-id.js';
import { checkOperations } from '../sim/linearizability/checker.js';
import { keysOf, kvModel } from '../sim/linearizability/kv-model.js';
import { ClientPool } from '../sim/client-pool.js';
import { PartitionedCluster } from '../sim/partitioned-cluster.js';
import { summarize, type ActionRecord, type OpRecord, type RunResult } from './run-result.js';
import { describeAction, seconds, type Action, type Scenario } from './scenario.js';

/** The simulated workload is scaled down: the checker's cost grows with operations per key. */
const SIM_MAX_CLIENTS = 16;
const SIM_MAX_KEYS = 64;

/**
 * Runs a scenario in the deterministic simulator (sim/PartitionedCluster) under one seed: the
 * same cluster shape and timeline in virtual time, a scaled-down closed-loop workload, then
 * every fault healed, every key read, and the history checked for linearizability.
 */
export function runSim(scenario: Scenario, seed: number): RunResult {
  const { nodes, replication } = scenario.cluster;
  const cluster = new PartitionedCluster(seed, nodes, replication);
  const { sim } = cluster;
  if (!sim.runUntil(() => cluster.ready(), 20_000)) throw new Error(`seed ${seed}: no leaders`);
  const t0 = sim.now;
  const durationMs = seconds(scenario.workload.duration) * 1000;
  const pool = (clients: number) =>
    new ClientPool(cluster, sim.random.fork(`clients-${sim.now}`), {
      clients: Math.min(clients, SIM_MAX_CLIENTS),
      keys: Math.min(scenario.workload.keys, SIM_MAX_KEYS),
    });
  const pools = [pool(scenario.workload.clients)];
  pools[0]!.start();
  const actions: ActionRecord[] = [];
  const stopped = new Set<NodeId>();
  const paused = new Set<NodeId>();
  const untilEnd = () => t0 + durationMs - sim.now + 60_000;

  const target = (a: { node?: number; leaderOf?: number; followerOf?: number }) => {
    if (a.node !== undefined) return nodeId(a.node);
    if (a.leaderOf !== undefined) return cluster.leaderOf(a.leaderOf);
    const group = cluster.table.group(a.followerOf!);
    const leader = cluster.leaderOf(a.followerOf!);
    return group?.members.find((id) => id !== leader && sim.isUp(id)) ?? null;
  };
  const others = (id: NodeId) => cluster.ids.filter((x) => x !== id);
  const perform = (a: Action): string | undefined => {
    switch (a.action) {
      case 'kill':
      case 'wipe': {
        const id = target(a);
        if (id === null) return 'no such node now';
        cluster.crash(id);
        if (a.action === 'wipe') {
          cluster.wipe(id);
          sim.restart(id);
        } else stopped.add(id);
        return undefined;
      }
      case 'restart':
      case 'restart-all': {
        const ids =
          a.action === 'restart' && a.node !== undefined ? [nodeId(a.node)] : [...stopped];
        for (const id of ids) if (!sim.isUp(id)) sim.restart(id);
        for (const id of ids) stopped.delete(id);
        return undefined;
      }
      case 'kill-all':
        for (const id of cluster.ids) {
          cluster.crash(id);
          stopped.add(id);
        }
        return undefined;
      case 'pause': {
        const id = target(a);
        if (id === null) return 'no such node now';
        sim.stall(id, untilEnd());
        paused.add(id);
        return undefined;
      }
      case 'resume': {
        const ids = a.node !== undefined ? [nodeId(a.node)] : [...paused];
        for (const id of ids) sim.resume(id);
        for (const id of ids) paused.delete(id);
        return undefined;
      }
      case 'isolate': {
        const id = target(a);
        if (id === null) return 'no such node now';
        cluster.sim.fabric.partition([[id], others(id)]);
        if (a.for !== undefined) {
          sim.after(seconds(a.for) * 1000, () => {
            for (const o of others(id)) {
              sim.fabric.unblock(id, o);
              sim.fabric.unblock(o, id);
            }
          });
        }
        return undefined;
      }
      case 'cut': {
        const [from, to] = [nodeId(a.from), nodeId(a.to)];
        sim.fabric.block(from, to);
        if (a.for !== undefined)
          sim.after(seconds(a.for) * 1000, () => sim.fabric.unblock(from, to));
        return undefined;
      }
      case 'heal':
        sim.fabric.heal();
        return undefined;
      case 'load': {
        const extra = pool(a.clients);
        pools.push(extra);
        extra.start();
        sim.after(seconds(a.for) * 1000, () => extra.stop());
        return undefined;
      }
    }
  };
  for (const a of scenario.timeline) {
    sim.at(t0 + seconds(a.at) * 1000, () => {
      const failed = perform(a);
      actions.push({
        atMs: sim.now - t0,
        text: describeAction(a),
        ...(failed === undefined ? {} : { failed }),
      });
    });
  }
  sim.runFor(durationMs);
  for (const p of pools) p.stop();
  // Heal everything and read every key, so a lost acknowledged write shows in the history.
  sim.fabric.heal();
  for (const id of paused) sim.resume(id);
  for (const id of cluster.ids) if (!sim.isUp(id)) sim.restart(id);
  sim.runUntil(() => cluster.ready(), 30_000);
  const keys = new Set(cluster.recorder.history.flatMap((op) => keysOf(op.input)));
  let pending = 0;
  for (const key of keys) {
    pending++;
    cluster.submit(cluster.ids[0]!, cluster.newClientId(), { op: 'get', key }, () => pending--);
  }
  sim.runUntil(() => pending === 0, 30_000);
  cluster.recorder.abandon();

  const ops: OpRecord[] = [];
  const groupOf = (key: string) => cluster.table.groupOfKey(key).id;
  const inWindow = (calledAt: number) => calledAt - t0 < durationMs;
  for (const op of cluster.recorder.history) {
    if (!inWindow(op.calledAt)) continue;
    ops.push({
      group: groupOf(keysOf(op.input)[0]!),
      start: op.calledAt - t0,
      end: op.returnedAt - t0,
      outcome: op.returnedAt === Infinity ? 'unknown' : 'ok',
    });
  }
  for (const op of cluster.recorder.unavailable) {
    if (!inWindow(op.calledAt)) continue;
    ops.push({
      group: groupOf(keysOf(op.input)[0]!),
      start: op.calledAt - t0,
      end: op.returnedAt - t0,
      outcome: 'unavailable',
    });
  }
  const verdict = checkOperations(kvModel, cluster.recorder.history, { maxSteps: 2_000_000 });
  return {
    mode: 'sim',
    seed,
    durationSec: durationMs / 1000,
    actions,
    groups: cluster.table.groups.map((g) => g.id),
    ...summarize(
      ops,
      cluster.table.groups.map((g) => g.id),
      durationMs,
    ),
    linearizability: { verdict, operations: cluster.recorder.history.length },
  };
}
