import { describe, expect, it } from 'vitest';
import { nodeId, type NodeId } from '../../components/network/node-id.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import {
  PollRelay,
  type AttemptResult,
  type RelayAttempt,
  type RelayOutcome,
} from '../../watch/poll-relay.js';
import type { WatchPoll } from '../../watch/watch-port.js';

const GRACE = 2;
/** Ticks between rounds (poll-relay.ts). */
const RETRY = 5;
const [N1, N2, N3, N4] = [1, 2, 3, 4].map(nodeId) as [NodeId, NodeId, NodeId, NodeId];

function poll(id: number, after: number | null = 100, group = 7): WatchPoll {
  return {
    kind: 'WatchPoll',
    id,
    group,
    after,
    filter: { prefixes: ['a'], keys: [] },
    waitMs: 0,
    maxBytes: 1000,
  };
}

/** A relay on node `self` whose members are asked through fake hooks that record everything. */
function setup(self: NodeId = N1) {
  const started: RelayAttempt[] = [];
  const cancelled: RelayAttempt[] = [];
  const outcomes = new Map<number, RelayOutcome[]>();
  const relay = new PollRelay({
    self,
    random: new SeededRandom(5),
    graceTicks: GRACE,
    start: (attempt) => started.push(attempt),
    cancel: (attempt) => cancelled.push(attempt),
  });
  const begin = (p: WatchPoll, members: NodeId[], waitTicks: number) =>
    relay.begin(p, members, waitTicks, (outcome) =>
      outcomes.set(p.id, [...(outcomes.get(p.id) ?? []), outcome]),
    );
  const last = () => started.at(-1)!;
  /** The node asked last answers `result`. */
  const answer = (result: AttemptResult, attempt = last()) => relay.answered(attempt, result);
  const ticks = (n: number) => {
    for (let i = 0; i < n; i++) relay.onTick();
  };
  const asked = () => started.map((a) => a.node);
  return { relay, started, cancelled, outcomes, begin, last, answer, ticks, asked };
}

const batch = (cursor: number): AttemptResult => ({ events: [], cursor });

describe('PollRelay', () => {
  it('asks this node first when it is a member, then the others in order', () => {
    const s = setup(N2);
    s.begin(poll(1), [N1, N2, N3], 10);
    s.answer('not-here');
    s.answer('behind');
    expect(s.asked()).toEqual([N2, N1, N3]);
    s.answer(batch(120));
    expect(s.outcomes.get(1)).toEqual([{ events: [], cursor: 120 }]);
  });

  it('stops asking first a member that answered last once it stays silent past a wait', () => {
    const s = setup(N4);
    s.begin(poll(1), [N1, N2, N3], 10);
    s.answer('not-here');
    s.answer(batch(110)); // N2 answered: asked first next time
    s.begin(poll(2), [N1, N2, N3], 10);
    expect(s.last().node).toBe(N2);
    s.ticks(10 + GRACE); // N2 is silent past the wait and the grace
    s.answer('behind'); // then N1 and N3 have nothing either
    s.answer('behind');
    expect(s.asked().slice(-3)).toEqual([N2, N1, N3]);
    expect(s.outcomes.get(2)).toEqual([{ events: [], cursor: 100 }]);
    s.begin(poll(3), [N1, N2, N3], 10);
    expect(s.last().node).toBe(N1);
  });

  it('asks first the member that answered last for the group, when this node is not one', () => {
    const s = setup(N4);
    s.begin(poll(1), [N1, N2, N3], 10);
    s.answer('not-here');
    s.answer(batch(110)); // N2
    s.begin(poll(2), [N1, N2, N3], 10);
    expect(s.last().node).toBe(N2);
    s.begin(poll(3, 100, 8), [N1, N2, N3], 10); // another group: its own order
    expect(s.last().node).toBe(N1);
    // A member that answered last but left the group is not asked first.
    s.begin(poll(4), [N1, N3], 10);
    expect(s.last().node).toBe(N1);
  });

  it('gives every attempt what is left of the wait, fresh request ids, and the poll', () => {
    const s = setup(N4);
    s.begin(poll(1), [N1, N2], 10);
    s.ticks(3);
    s.answer('behind');
    const [first, second] = s.started as [RelayAttempt, RelayAttempt];
    expect([first.waitTicks, second.waitTicks]).toEqual([10, 7]);
    expect(second.requestId).not.toBe(first.requestId);
    expect(second.poll).toEqual(poll(1));
  });

  it('ends with compacted only once every member said so, across rounds', () => {
    const s = setup(N4);
    s.begin(poll(1), [N1, N2, N3], 100);
    s.answer('compacted'); // N1
    s.answer('behind'); // N2
    s.answer('compacted'); // N3
    expect(s.outcomes.size).toBe(0);
    s.ticks(RETRY);
    s.answer('compacted'); // N1 again: still only two members
    expect(s.last().node).toBe(N2);
    s.answer('compacted');
    expect(s.outcomes.get(1)).toEqual(['compacted']);
  });

  it('a member whose connection closed is passed over at once', () => {
    const s = setup(N4);
    s.begin(poll(1), [N1, N2], 100);
    s.begin(poll(2), [N2, N3], 100);
    s.relay.nodeDown(N1);
    expect(s.asked()).toEqual([N1, N2, N2]);
    expect(s.cancelled).toEqual([]); // nothing to cancel on a closed connection
    s.relay.nodeDown(N3); // asked by nobody
    expect(s.asked()).toEqual([N1, N2, N2]);
  });

  it('asks a member whose connection closed without a wait, until it answers again', () => {
    // A poll sent to a dead member is lost with its link: asked for the whole wait, it held a
    // watcher's poll (and its SSE stream) 30 s and more after a leader was killed.
    const s = setup(N4);
    s.relay.nodeDown(N3);
    s.begin(poll(1), [N3, N1], 100);
    expect(s.last()).toMatchObject({ node: N3, waitTicks: 0 });
    s.ticks(GRACE); // silent past the grace alone: the next member is asked, with the wait left
    expect(s.asked()).toEqual([N3, N1]);
    expect(s.last().waitTicks).toBe(100 - GRACE);
    s.answer(batch(110));
    s.begin(poll(2), [N3, N1], 100);
    expect(s.last()).toMatchObject({ node: N1 }); // answered last: asked first
    s.answer('behind');
    expect(s.last()).toMatchObject({ node: N3, waitTicks: 0 });
    s.answer('behind'); // back: asked with its wait from now on
    s.begin(poll(3), [N3], 100);
    expect(s.last()).toMatchObject({ node: N3, waitTicks: 100 });
  });

  it('gives up on an attempt at its wait plus grace: cancels it and asks the next member', () => {
    const s = setup(N4);
    s.begin(poll(1), [N1, N2], 10);
    const first = s.last();
    s.ticks(10 + GRACE - 1);
    expect(s.asked()).toEqual([N1]);
    s.ticks(1);
    expect(s.cancelled).toEqual([first]);
    expect(s.asked()).toEqual([N1, N2]);
    expect(s.last().waitTicks).toBe(0);
    // Its late answer is ignored.
    s.answer(batch(999), first);
    expect(s.outcomes.size).toBe(0);
    expect(s.relay.attemptFor(first.requestId, N1)).toBeUndefined();
  });

  it('pauses RETRY ticks after a round without an answer, then asks again', () => {
    const s = setup(N4);
    s.begin(poll(1), [N1, N2], 100);
    s.answer('behind');
    s.answer('not-here');
    expect(s.asked()).toEqual([N1, N2]);
    s.ticks(RETRY - 1);
    expect(s.asked()).toEqual([N1, N2]);
    s.ticks(1);
    expect(s.asked()).toEqual([N1, N2, N1]);
    expect(s.relay.size).toBe(1);
  });

  it('at its own deadline, after a round without an answer: an empty batch at its cursor', () => {
    const s = setup(N4);
    s.begin(poll(1, 100), [N1, N2], 3);
    s.answer('behind');
    s.answer('behind');
    s.ticks(2);
    expect(s.outcomes.size).toBe(0);
    s.ticks(1); // the pause is cut to the deadline
    expect(s.outcomes.get(1)).toEqual([{ events: [], cursor: 100 }]);
    expect(s.relay.size).toBe(0);
  });

  it('at its own deadline, without a cursor: unavailable', () => {
    const s = setup(N4);
    s.begin(poll(1, null), [N1], 0);
    s.answer('not-here');
    expect(s.outcomes.get(1)).toEqual(['unavailable']);
  });

  it('a member that does not answer past the deadline: the next is asked with no wait, then the poll ends', () => {
    const s = setup(N4);
    s.begin(poll(1, 100), [N1, N2], 4);
    s.ticks(4 + GRACE);
    expect(s.asked()).toEqual([N1, N2]);
    s.ticks(GRACE);
    expect(s.outcomes.get(1)).toEqual([{ events: [], cursor: 100 }]);
    expect(s.cancelled.map((a) => a.node)).toEqual([N1, N2]);
  });

  it('cancel by id drops the poll and cancels its attempt; it is never answered', () => {
    const s = setup(N4);
    s.begin(poll(1), [N1, N2], 10);
    s.begin(poll(2), [N1, N2], 10);
    const attempt = s.started[0]!;
    s.relay.cancel(1);
    expect(s.cancelled).toEqual([attempt]);
    expect(s.relay.size).toBe(1);
    s.answer(batch(200), attempt);
    s.ticks(100);
    expect(s.outcomes.has(1)).toBe(false);
    s.relay.cancel(1); // twice: harmless
    s.relay.cancel(99);
    // Then only poll 2's attempts, each given up at the deadline plus grace.
    expect(s.cancelled.map((a) => [a.poll.id, a.node])).toEqual([
      [1, N1],
      [2, N1],
      [2, N2],
    ]);
    expect(s.outcomes.get(2)).toEqual([{ events: [], cursor: 100 }]);
  });

  it('a poll begun again under the same id replaces the first', () => {
    const s = setup(N4);
    s.begin(poll(1, 100), [N1], 10);
    const old = s.last();
    s.begin(poll(1, 200), [N2], 10);
    expect(s.cancelled).toEqual([old]);
    s.answer(batch(300), old);
    s.answer(batch(250));
    expect(s.outcomes.get(1)).toEqual([{ events: [], cursor: 250 }]);
  });

  it('attemptFor finds only the attempt in flight, and only from the node it was sent to', () => {
    const s = setup(N4);
    s.begin(poll(1), [N1, N2], 10);
    const first = s.last();
    expect(s.relay.attemptFor(first.requestId, N1)).toBe(first);
    expect(s.relay.attemptFor(first.requestId, N2)).toBeUndefined();
    expect(s.relay.attemptFor(first.requestId + 1, N1)).toBeUndefined();
    s.answer('behind');
    expect(s.relay.attemptFor(first.requestId, N1)).toBeUndefined();
    expect(s.relay.attemptFor(s.last().requestId, N2)).toBe(s.last());
  });

  it('a member answering synchronously (this node’s replica) is handled like any other', () => {
    const started: RelayAttempt[] = [];
    const outcomes: RelayOutcome[] = [];
    const relay: PollRelay = new PollRelay({
      self: N1,
      random: new SeededRandom(1),
      graceTicks: GRACE,
      start: (attempt) => {
        started.push(attempt);
        if (attempt.node === N1) relay.answered(attempt, 'not-here');
      },
      cancel: () => {},
    });
    relay.begin(poll(1), [N2, N1], 10, (outcome) => outcomes.push(outcome));
    expect(started.map((a) => a.node)).toEqual([N1, N2]);
    relay.answered(started[1]!, batch(101));
    expect(outcomes).toEqual([{ events: [], cursor: 101 }]);
  });
});
