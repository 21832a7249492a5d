/**
 * Peer input to the watch service is validated, never trusted (issue 12; reference/security.md
 * §4 S0): polls from outside the table or beyond the limits are dropped and counted, a member's
 * batch that could not be a true answer never reaches a watcher (the relay asks another member),
 * and a peer cannot make a node hold more polls than it allows.
 */
import { describe, expect, it } from 'vitest';
import type { Envelope, MessageOf } from '../../components/network/network-port.js';
import type { NodeId } from '../../components/network/node-id.js';
import { MAX_KEY_BYTES } from '../../components/limits.js';
import { ScriptedRun } from '../../sim/scripted-run.js';
import { SIM_TIMING, SIM_WATCH } from '../../sim/zab-cluster.js';
import type { ZabHost } from '../../sim/zab-host.js';
import {
  WATCH_FILTER_MAX_ENTRIES,
  type WatchBatch,
  type WatchEnded,
  type WatchEvent,
} from '../../watch/watch-port.js';
import type { WatchStatus } from '../../watch/watch-status-port.js';
import { Forger } from './fixtures/forger.js';
import { runSeed } from './fixtures/seeds.js';

const FILE = 'test/sim/watch-peer-input.test.ts';
const GROUP = 1;

type Poll = Omit<MessageOf<'watch.Poll'>, 'kind' | 'src' | 'dst'>;

function pollFields(requestId: number, fields: Partial<Poll> = {}): Poll {
  return {
    requestId,
    group: GROUP,
    after: -1,
    prefixes: ['w/'],
    keys: [],
    waitMs: 0,
    maxBytes: 1 << 20,
    ...fields,
  };
}

function status(run: ScriptedRun, id: NodeId): WatchStatus | null {
  return (run.sim.rootOf(id) as ZabHost | null)?.watchStatus ?? null;
}

function rejected(run: ScriptedRun, id: NodeId): Readonly<Record<string, number>> {
  return status(run, id)?.rejected ?? {};
}

/** Every watch message that arrives anywhere, with an optional rewrite of each on arrival. */
function watchArrivals(run: ScriptedRun, rewrite: (m: Envelope) => void = () => {}): Envelope[] {
  const arrived: Envelope[] = [];
  run.sim.fabric.onArrival = (message) => {
    if (message.kind.startsWith('watch.')) {
      rewrite(message);
      arrived.push(message);
    }
    return true;
  };
  return arrived;
}

/** A follower, the leader and the other follower of a running group of three. */
function roles(run: ScriptedRun): { leader: NodeId; a: NodeId; b: NodeId } {
  const leader = run.awaitLeader();
  // The watch services hear that their replicas serve from the replicas' next status report
  // (each tick); until then they hold no polls.
  run.sim.runFor(2 * SIM_TIMING.tickMs!);
  const [a, b] = run.cluster.ids.filter((id) => id !== leader) as [NodeId, NodeId];
  return { leader, a, b };
}

function show(event: WatchEvent): string {
  const changes = event.changes.map((c) =>
    c.type === 'delete' ? `-${c.key}` : `${c.key}=${Buffer.from(c.value!).toString()}`,
  );
  return `${event.zxid} ${event.type} ${changes.join(' ')}`;
}

describe('watch peer input: validated, never trusted', () => {
  it('polls from outside the table or beyond the limits are dropped and counted; others answered', () => {
    runSeed(12_100, FILE, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { sim } = run;
      const { leader, a, b } = roles(run);
      run.put(leader, 'w/1', 'one');
      run.awaitServing(a);
      const forger = new Forger(sim);
      const arrived = watchArrivals(run);
      const tooLong = 'é'.repeat(MAX_KEY_BYTES / 2 + 1); // within the schema's characters, not in bytes
      const many = Array.from({ length: WATCH_FILTER_MAX_ENTRIES / 2 + 1 }, (_, i) => `p${i}`);
      const cases: [string, NodeId, Partial<Poll>, string | null, string | null][] = [
        // what, sent as, fields, the answer, the rejection counted
        ['a poll from a member', b, {}, 'watch.Batch', null],
        ['a poll from a node outside the table', forger.id, {}, null, 'not-in-table'],
        ['too many keys and prefixes', b, { prefixes: many, keys: many }, null, 'over-limits'],
        ['a key too long in bytes', b, { keys: [tooLong] }, null, 'over-limits'],
        ['a prefix too long in bytes', b, { prefixes: [tooLong] }, null, 'over-limits'],
        ['an empty filter', b, { prefixes: [] }, null, 'over-limits'],
        ['a group this node does not hold', b, { group: 99 }, 'watch.Ended not-here', null],
      ];
      cases.forEach(([, from, fields], i) =>
        forger.send('watch.Poll', a, pollFields(100 + i, fields), from),
      );
      sim.runUntil(() => Object.keys(rejected(run, a)).length > 0, 3_000);
      const want = new Map<string, number>();
      cases.forEach(([what, from, , answer, rejection], i) => {
        const replies = arrived
          .filter(
            (m) =>
              m.src === a &&
              m.dst === from &&
              (m as MessageOf<'watch.Ended'>).requestId === 100 + i,
          )
          .map((m) =>
            m.kind === 'watch.Ended'
              ? `${m.kind} ${(m as MessageOf<'watch.Ended'>).reason}`
              : m.kind,
          );
        expect(replies, what).toEqual(answer === null ? [] : [answer]);
        if (rejection !== null) want.set(rejection, (want.get(rejection) ?? 0) + 1);
      });
      expect(rejected(run, a)).toEqual(Object.fromEntries(want));
      expect(forger.received).toEqual([]);
      expect(sim.isUp(a)).toBe(true);
      expect(run.finish()).toBe('ok');
    });
  });

  const forgeries: [string, (m: Record<string, unknown>, others: NodeId[]) => void, boolean][] = [
    // what the batch a member sends the watcher's node is turned into, and whether it is counted
    ['another request id', (m) => (m['requestId'] = (m['requestId'] as number) + 1), false],
    [
      'another member as its sender',
      (m, others) => (m['src'] = others.find((id) => id !== m['src'])),
      false,
    ],
    ['a sender outside the table', (m) => (m['src'] = 50), false],
    ['its events out of order', (m) => (m['events'] as unknown[]).reverse(), true],
    [
      'a key the filter does not match',
      (m) => ((m['events'] as { changes: { key: string }[] }[])[1]!.changes[0]!.key = 'x/forged'),
      true,
    ],
    [
      'its cursor before its events',
      (m) => (m['cursor'] = (m['events'] as { zxid: number }[])[0]!.zxid),
      true,
    ],
  ];
  forgeries.forEach(([what, forge, counted], index) => {
    it(`a batch with ${what} never reaches the watcher: another member is asked`, () => {
      runSeed(12_200 + index, FILE, (seed) => {
        const run = new ScriptedRun({ seed, size: 3 });
        const { cluster, sim } = run;
        const { leader, a: watcherNode } = roles(run);
        const written: string[] = [];
        for (const [key, value] of [
          ['w/1', 'a'],
          ['x/1', 'b'],
          ['w/2', 'c'],
          ['w/1', 'd'],
          ['w/3', 'e'],
        ]) {
          const outcome = run.put(leader, key!, value!);
          expect(outcome?.status).toBe(200);
          if (key!.startsWith('w/') && outcome?.status === 200)
            written.push(`${outcome.version} put ${key}=${value}`);
        }
        // Restarted, the node holds no history before what it loaded: its own replica says
        // compacted, so the watcher's poll from the start goes to the other members.
        run.awaitServing(watcherNode);
        sim.runFor(300);
        cluster.crash(watcherNode);
        cluster.restart(watcherNode);
        run.awaitServing(watcherNode);
        expect(sim.runUntil(() => (status(run, watcherNode)?.history?.floor ?? 0) > 0, 3_000)).toBe(
          true,
        );

        let forged = false;
        const arrived = watchArrivals(run, (m) => {
          if (forged || m.kind !== 'watch.Batch' || m.dst !== watcherNode) return;
          forged = true;
          forge(
            m as unknown as Record<string, unknown>,
            cluster.ids.filter((id) => id !== watcherNode),
          );
        });
        const answers: (WatchBatch | WatchEnded)[] = [];
        cluster.onWatchAnswer = (_node, answer) => answers.push(answer);
        cluster.watchClient(watcherNode)!.poll({
          id: 1,
          group: GROUP,
          after: 0,
          filter: { prefixes: ['w/'], keys: [] },
          waitMs: 1_000,
          maxBytes: 1 << 20,
        });
        expect(sim.runUntil(() => answers.length > 0, 10_000)).toBe(true);
        expect(forged).toBe(true);
        const [answer] = answers as [WatchBatch | WatchEnded];
        expect(answer.kind).toBe('WatchBatch');
        expect((answer as WatchBatch).events.map(show)).toEqual(written);
        const asked = new Set(
          arrived.filter((m) => m.kind === 'watch.Poll' && m.src === watcherNode).map((m) => m.dst),
        );
        expect(asked.size).toBe(2);
        sim.runFor(2_000); // the service reports its status every second
        expect(answers).toHaveLength(1);
        expect(rejected(run, watcherNode)).toEqual(counted ? { 'bad-payload': 1 } : {});
        expect(run.finish()).toBe('ok');
      });
    });
  });

  const cancels: [string, 'the asker' | 'another member' | null, boolean][] = [
    ['by the node that asked', 'the asker', false],
    ['by another node', 'another member', true],
    ['not at all', null, true],
  ];
  for (const [what, by, answered] of cancels) {
    it(`a held poll cancelled ${what} is ${answered ? 'still answered' : 'dropped'}`, () => {
      runSeed(12_300, FILE, (seed) => {
        const run = new ScriptedRun({ seed, size: 3 });
        const { sim } = run;
        const { leader, a, b } = roles(run);
        const forger = new Forger(sim);
        const arrived = watchArrivals(run);
        forger.send(
          'watch.Poll',
          a,
          pollFields(7, { keys: ['watched'], prefixes: [], waitMs: 60_000 }),
          b,
        );
        expect(sim.runUntil(() => status(run, a)?.heldPolls === 1, 3_000)).toBe(true);
        if (by !== null)
          forger.send('watch.Cancel', a, { requestId: 7 }, by === 'the asker' ? b : leader);
        if (!answered)
          expect(sim.runUntil(() => status(run, a)?.heldPolls === 0, 3_000)).toBe(true);
        run.put(leader, 'watched', 'now');
        sim.runFor(500);
        const batches = arrived.filter((m) => m.kind === 'watch.Batch' && m.src === a);
        expect(batches.map((m) => [m.dst, (m as MessageOf<'watch.Batch'>).requestId])).toEqual(
          answered ? [[b, 7]] : [],
        );
        expect(run.finish()).toBe('ok');
      });
    });
  }

  it('the polls a node holds for another are dropped when its connection closes', () => {
    runSeed(12_350, FILE, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const { leader, a, b } = roles(run);
      const forger = new Forger(sim);
      const quiet = { keys: ['quiet'], prefixes: [], waitMs: 60_000 };
      for (const requestId of [1, 2, 3])
        forger.send('watch.Poll', a, pollFields(requestId, quiet), b);
      forger.send('watch.Poll', a, pollFields(4, quiet), leader);
      expect(sim.runUntil(() => status(run, a)?.heldPolls === 4, 3_000)).toBe(true);
      cluster.crash(b);
      expect(sim.runUntil(() => status(run, a)?.heldPolls === 1, 3_000)).toBe(true);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a node holds no more polls than it allows: past it, busy', () => {
    runSeed(12_400, FILE, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { sim } = run;
      const { a, b } = roles(run);
      const forger = new Forger(sim);
      const arrived = watchArrivals(run);
      const quiet = { keys: ['quiet'], prefixes: [], waitMs: 300_000 };
      for (let i = 0; i < SIM_WATCH.maxHeldPolls; i++)
        forger.send('watch.Poll', a, pollFields(1_000 + i, quiet), b);
      expect(sim.runUntil(() => status(run, a)?.heldPolls === SIM_WATCH.maxHeldPolls, 3_000)).toBe(
        true,
      );
      forger.send('watch.Poll', a, pollFields(5, quiet), b);
      sim.runFor(200);
      const replies = arrived.filter((m) => m.src === a && m.dst === b);
      expect(
        replies.map((m) => [
          m.kind,
          (m as MessageOf<'watch.Ended'>).requestId,
          (m as MessageOf<'watch.Ended'>).reason,
        ]),
      ).toEqual([['watch.Ended', 5, 'busy']]);
      expect(rejected(run, a)).toEqual({});
      expect(run.finish()).toBe('ok');
    });
  });
});
