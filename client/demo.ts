import { nodeId } from '../components/network/node-id.js';
import { fdCluster } from '../test/sim/fixtures/fd-cluster.js';

/**
 * What `npm start` shows until the replicated cluster exists: five simulated nodes running
 * the real failure detector over the simulated network, through a crash, a restart, a
 * partition and a heal, in virtual time. The run is a function of its seed.
 */
export function runDemo(seed: number, print: (line: string) => void): void {
  const { sim, events } = fdCluster({ seed, nodes: 5, chatter: true });
  let shown = 0;
  const showEvents = (): void => {
    for (; shown < events.length; shown++) {
      const { at, node, event } = events[shown]!;
      const verb = event.kind === 'Suspect' ? 'suspects' : 'restores';
      print(`  t=${(at / 1000).toFixed(3)}s  node ${node} ${verb} node ${event.peer}`);
    }
  };
  const act = (afterMs: number, what: string, action: () => void): void => {
    sim.runFor(afterMs);
    showEvents();
    print(`t=${(sim.now / 1000).toFixed(3)}s  ${what}`);
    action();
  };
  print(`zabkv simulated demo: 5 nodes, failure detector + background traffic, seed ${seed}`);
  act(2_000, 'crash node 3', () => sim.crash(nodeId(3)));
  act(2_000, 'restart node 3', () => sim.restart(nodeId(3)));
  act(2_000, 'partition {1,2} | {3,4,5}', () =>
    sim.fabric.partition([
      [nodeId(1), nodeId(2)],
      [nodeId(3), nodeId(4), nodeId(5)],
    ]),
  );
  act(2_000, 'heal the partition', () => sim.fabric.heal());
  act(3_000, 'done', () => {});
  const { sent, delivered, lost, blocked, toDeadNode } = sim.fabric.stats;
  print(
    `messages: ${sent} sent, ${delivered} delivered, ${blocked} blocked by partitions, ` +
      `${toDeadNode} to crashed nodes, ${lost} lost`,
  );
  print(`trace: ${sim.trace.lines} events, sha256 ${sim.trace.digest().slice(0, 16)}…`);
  print(`the same seed replays the same trace: npm start -- --seed ${seed}`);
}
