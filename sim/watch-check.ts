import assert from 'node:assert/strict';
import type { NodeId } from '../components/network/node-id.js';
import type { SeededRandom } from '../components/random/seeded-random.js';
import type { Simulator } from '../components/sim/index.js';
import { decodeOperation, isWrite } from '../kv/kv-operation.js';
import { formatZxid, type Zxid } from '../kv/zxid.js';
import { decodeLogEntry } from '../replica/log-entry.js';
import { MemoryStateDisk, MemoryStateStore } from '../state/memory-state-store.js';
import { applyLogged } from '../state/state-store.js';
import { eventMatching } from '../watch/watch-filter.js';
import {
  WATCH_VALUE_MAX_BYTES,
  type WatchBatch,
  type WatchEnded,
  type WatchEvent,
  type WatchFilter,
} from '../watch/watch-port.js';
import type { WatchClient } from './watch-client.js';

/** What the watch check needs of a simulated group. */
export interface WatchTarget {
  readonly sim: Simulator;
  readonly ids: readonly NodeId[];
  upNodes(): NodeId[];
  watchClient(id: NodeId): WatchClient | null;
  /** The groups watchers may follow. */
  readonly watchGroups: readonly number[];
  /** Every entry `group` committed so far, in order: zxids and their log payloads. */
  committedLog(group: number): CommittedLog;
  onWatchAnswer: (node: NodeId, answer: WatchBatch | WatchEnded) => void;
}

export interface CommittedLog {
  readonly zxids: readonly Zxid[];
  readonly payloads: readonly Uint8Array[];
}

interface Watcher {
  readonly index: number;
  readonly group: number;
  readonly filter: WatchFilter;
  node: NodeId;
  cursor: Zxid | null;
  /** The poll in flight: its id, where and from what cursor. */
  pending: {
    readonly id: number;
    readonly node: NodeId;
    readonly after: Zxid | null;
    /** The node's client when asked: a restarted node has another, which never answers. */
    readonly client: WatchClient;
  } | null;
}

/** What the watchers saw, for the run's summary and the test's assertions. */
export interface WatchStats {
  batches: number;
  events: number;
  compacted: number;
  unavailable: number;
  lostWithNode: number;
}

/**
 * Watchers attached through random nodes, checked the way etcd's robustness suite checks watch
 * streams: every batch must hold exactly the committed changes that match the watcher's filter
 * between its cursor and the batch's, in zxid order, none missing, none twice, each entry whole.
 * Each poll may go to another node than the last, so every poll is a resumption from a
 * delivered cursor. The committed changes are worked out apart from the replicas: the cluster's
 * record of committed entries, applied in order to a store of our own.
 */
export class WatchCheck {
  private readonly watchers: Watcher[] = [];
  private readonly byPoll = new Map<number, Watcher>();
  private nextPollId = 1;
  private stopped = true;
  /** Per group, the committed changes as events, by index in its log (null: changed nothing). */
  private readonly references = new Map<number, Reference>();
  readonly stats: WatchStats = {
    batches: 0,
    events: 0,
    compacted: 0,
    unavailable: 0,
    lostWithNode: 0,
  };

  constructor(
    private readonly target: WatchTarget,
    private readonly random: SeededRandom,
    watchers: number,
  ) {
    for (const group of target.watchGroups) {
      const disk = new MemoryStateDisk(random.fork(`reference-${group}`));
      this.references.set(group, { events: [], state: new MemoryStateStore(disk) });
    }
    target.onWatchAnswer = (node, answer) => this.onAnswer(node, answer);
    const filters: WatchFilter[] = [
      { prefixes: [''], keys: [] },
      { prefixes: ['k1'], keys: [] },
      { prefixes: [], keys: ['k2', 'k3'] },
      { prefixes: ['k4', 'final'], keys: ['k0'] },
    ];
    for (let index = 0; index < watchers; index++) {
      const filter = filters[index % filters.length]!;
      const groups = target.watchGroups;
      this.watchers.push({
        index,
        group: groups[Math.floor(index / filters.length) % groups.length]!,
        filter,
        node: random.pick(target.ids),
        cursor: null,
        pending: null,
      });
    }
  }

  start(): void {
    this.stopped = false;
    for (const watcher of this.watchers)
      this.target.sim.after(this.random.int(0, 100), () => this.poll(watcher));
    this.sweepLost();
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * After the run has healed and converged: every watcher polls, from any node, until its cursor
   * reaches the last commit of its group, so a change missed at the end shows up too. Returns
   * false if one could not.
   */
  catchUp(maxMs: number): boolean {
    const { sim } = this.target;
    this.stopped = false;
    const deadline = sim.now + maxMs;
    const last = (group: number) => this.target.committedLog(group).zxids.at(-1) ?? 0;
    const behind = () => this.watchers.filter((w) => w.cursor === null || w.cursor < last(w.group));
    for (const watcher of behind()) if (watcher.pending === null) this.poll(watcher);
    const done = sim.runUntil(() => behind().length === 0, Math.max(0, deadline - sim.now));
    this.stopped = true;
    return done;
  }

  private poll(watcher: Watcher): void {
    if (this.stopped || watcher.pending !== null) return;
    const { sim } = this.target;
    if (!sim.isUp(watcher.node) || this.random.int(0, 9) === 0) {
      const up = this.target.upNodes();
      if (up.length === 0) {
        sim.after(100, () => this.poll(watcher));
        return;
      }
      watcher.node = this.random.pick(up);
    }
    const client = this.target.watchClient(watcher.node);
    if (client === null) assert.fail(`watcher ${watcher.index}: node ${watcher.node} is down`);
    const id = this.nextPollId++;
    watcher.pending = { id, node: watcher.node, after: watcher.cursor, client };
    this.byPoll.set(id, watcher);
    client.poll({
      id,
      group: watcher.group,
      after: watcher.cursor,
      filter: watcher.filter,
      // A watcher that starts now asks without waiting: its batch is then known to be empty.
      waitMs: watcher.cursor === null ? 0 : this.random.pick([0, 100, 1_000, 3_000]),
      maxBytes: this.random.pick([1, 200, 1 << 20]),
    });
  }

  /** A watcher whose node went down with its poll goes on elsewhere from the same cursor. */
  private sweepLost(): void {
    const { sim } = this.target;
    sim.after(200, () => {
      for (const watcher of this.watchers) {
        const pending = watcher.pending;
        if (pending === null || this.target.watchClient(pending.node) === pending.client) continue;
        this.byPoll.delete(pending.id);
        watcher.pending = null;
        this.stats.lostWithNode++;
        this.poll(watcher);
      }
      if (!this.stopped) this.sweepLost();
    });
  }

  private onAnswer(node: NodeId, answer: WatchBatch | WatchEnded): void {
    const watcher = this.byPoll.get(answer.id);
    if (watcher === undefined) return; // its node was given up on: a late answer
    this.byPoll.delete(answer.id);
    const pending = watcher.pending!;
    assert.equal(pending.node, node, 'a watch answer came from another node than asked');
    watcher.pending = null;
    if (answer.kind === 'WatchEnded') {
      if (answer.reason === 'compacted') {
        this.stats.compacted++;
        watcher.cursor = null; // a real watcher lists again and watches from now
      } else this.stats.unavailable++;
    } else {
      this.checkBatch(watcher, pending.after, answer);
      watcher.cursor = answer.cursor;
    }
    this.target.sim.after(this.random.int(0, 30), () => this.poll(watcher));
  }

  private checkBatch(watcher: Watcher, after: Zxid | null, batch: WatchBatch): void {
    const where = `watcher ${watcher.index} of group ${watcher.group} at ${after === null ? 'now' : formatZxid(after)}`;
    this.stats.batches++;
    this.stats.events += batch.events.length;
    if (after === null) {
      // Starting now (without waiting) is an empty batch at the replica's applied zxid.
      if (batch.events.length > 0) assert.fail(`${where}: a watch from now got past events`);
      return;
    }
    if (batch.cursor < after)
      assert.fail(`${where}: the cursor went back to ${formatZxid(batch.cursor)}`);
    const expected = this.committedMatching(watcher.group, watcher.filter, after, batch.cursor);
    const got = batch.events.map(describe);
    const want = expected.map(describe);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      assert.fail(
        `${where}: batch through ${formatZxid(batch.cursor)} is\n  ${got.join('\n  ')}\nbut the committed changes that match are\n  ${want.join('\n  ')}`,
      );
    }
  }

  /** The committed changes of `group` in (after, through] that match `filter`, as events. */
  private committedMatching(
    group: number,
    filter: WatchFilter,
    after: Zxid,
    through: Zxid,
  ): WatchEvent[] {
    const { zxids } = this.target.committedLog(group);
    if (through > (zxids.at(-1) ?? 0))
      assert.fail(`a batch through ${formatZxid(through)}, never committed`);
    const reference = this.extendReference(group);
    const events: WatchEvent[] = [];
    for (let i = lowerBound(zxids, after + 1); i < zxids.length && zxids[i]! <= through; i++) {
      const event = reference[i];
      const matching = event === null || event === undefined ? null : eventMatching(filter, event);
      if (matching !== null) events.push(matching);
    }
    return events;
  }

  private extendReference(group: number): readonly (WatchEvent | null)[] {
    const { zxids, payloads } = this.target.committedLog(group);
    const { events, state } = this.references.get(group)!;
    for (let i = events.length; i < zxids.length; i++) {
      const operation = decodeOperation(decodeLogEntry(payloads[i]!).operation);
      if (operation === null || !isWrite(operation))
        assert.fail('a committed entry is not a write');
      applyLogged(state, zxids[i]!, operation);
      const changes = state.lastChanges.map(({ key, value }) =>
        value === undefined
          ? { key, type: 'delete' as const }
          : value.byteLength > WATCH_VALUE_MAX_BYTES
            ? { key, type: 'put' as const, valueOmitted: true as const }
            : { key, type: 'put' as const, value },
      );
      const types = new Set(changes.map((c) => c.type));
      const type = operation.op === 'txn' || types.size > 1 ? 'txn' : changes[0]?.type;
      events.push(type === undefined ? null : { zxid: zxids[i]!, type, changes });
    }
    return events;
  }
}

interface Reference {
  readonly events: (WatchEvent | null)[];
  readonly state: MemoryStateStore;
}

function describe(event: WatchEvent): string {
  const changes = event.changes.map((c) =>
    c.type === 'delete'
      ? `-${c.key}`
      : `${c.key}=${c.valueOmitted === true ? '<omitted>' : Buffer.from(c.value!).toString('hex')}`,
  );
  return `${formatZxid(event.zxid)} ${event.type} ${changes.join(' ')}`;
}

function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
