import assert from 'node:assert/strict';
import {
  APPLY_SLICE_BYTES,
  APPLY_SLICE_ENTRIES_COUNT,
  SNAP_UNWRITTEN_PIECES,
  SNAP_WINDOW_PIECES,
} from '../components/limits.js';
import type { MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import type { StoredEntry } from '../components/storage/index.js';
import { epochOf, follows, formatZxid, makeZxid, MAX_EPOCH, type Zxid } from '../kv/zxid.js';
import type { KvReadOperation, Reply } from './client-requests.js';
import type { StateInstall } from '../state/state-store.js';
import { DurableWaiters } from './durable-waiters.js';
import { FollowerReads } from './follower-reads.js';
import type { RoleContext } from './role-context.js';
import { entriesFault } from './session-checks.js';
import type { SessionBody } from './zab-messages.js';

/** The session messages a follower handles; the replica subscribes these to it. */
export const FOLLOWER_HANDLES = [
  'zab.LeaderInfo',
  'zab.Diff',
  'zab.Trunc',
  'zab.Snap',
  'zab.Proposal',
  'zab.NewLeader',
  'zab.UpToDate',
  'zab.Commit',
  'zab.Ping',
  'zab.ReadIndexReply',
] as const;
type SessionMessage = MessageOf<(typeof FOLLOWER_HANDLES)[number]>;
type Outgoing = SessionBody<
  'zab.AckEpoch' | 'zab.Ack' | 'zab.Pong' | 'zab.ReadIndex' | 'zab.SnapAck'
>;
type RefuseReason = 'impossible-epoch' | 'impossible-zxid' | 'out-of-place' | 'bad-payload';

/**
 * What arrived between DIFF/TRUNC/SNAP and NEWLEADER: applied only once it is all here
 * (docs/zab-rules.md R3, R7); a SNAP's entries are logged as they come.
 */
interface SyncBuffer {
  mode: 'diff' | 'trunc' | 'snap';
  /** The history point the entries continue from. */
  point: Zxid;
  /** SNAP: the state being received, the number of the next piece, and of pieces acknowledged. */
  install: StateInstall | null;
  nextPiece: number;
  piecesAcked: number;
  /** SNAP: the last piece came; the state is installed once `install.installed`. */
  lastPieceIn: boolean;
  /** SNAP: installed, on disk, and the log restarted after it; entries may follow. */
  snapshotDone: boolean;
  /** DIFF, TRUNC: the entries, logged at NEWLEADER. A SNAP's go to the log as they come. */
  entries: StoredEntry[];
}

const NO_SNAPSHOT = {
  install: null,
  nextPiece: 0,
  piecesAcked: 0,
  lastPieceIn: false,
  snapshotDone: false,
};

type Phase =
  | 'registering' // FOLLOWERINFO sent
  | 'discovered' // ACKEPOCH sent, waiting for the sync stream
  | 'syncing' // receiving DIFF/TRUNC/SNAP payload
  | 'synced' // NEWLEADER handled (its ACK goes out once durable)
  | 'broadcast'; // UPTODATE received: serving

/**
 * A follower's session with its leader (Learner.registerWithLeader, syncWithLeader and
 * Follower.processPacket). The session is this replica's view of one connection: any gap,
 * silence or protocol surprise ends it and the replica looks for a leader again. Its
 * continuations wait in its own DurableWaiters and die with it.
 */
export class FollowerSession {
  readonly session: number;
  private phase: Phase = 'registering';
  private epoch = -1;
  private sendSeq = 0;
  private receiveSeq = 0;
  private silentTicks = 0;
  /**
   * A Ping came: the leader is established and pings every follower past registration each
   * tick, so long silence means it is gone, even while this follower still syncs.
   * (ZooKeeper's learner waits initLimit until NEWLEADER, its leader not pinging a syncing
   * follower: a SIGSTOPped leader held a syncing follower for 10 s, and with it the voter the
   * others needed to elect.)
   */
  private pinged = false;
  private sync: SyncBuffer | null = null;
  /** COMMITs that arrive between NEWLEADER and UPTODATE, applied at UPTODATE (ZOOKEEPER-4394). */
  private pendingCommit = 0;
  /**
   * Known committed (UPTODATE, COMMIT); applied up to here a slice per turn (applyCommitted).
   * While the applied state is behind it, a burst-end timer is pending for the next slice.
   */
  private commitTarget: Zxid = 0;
  private readonly reads: FollowerReads;
  private readonly waiters = new DurableWaiters();

  constructor(
    private readonly context: RoleContext,
    readonly leader: NodeId,
    registerNow: boolean,
  ) {
    this.session = context.replica.nextSessionId();
    this.reads = new FollowerReads(context, (round) => this.send({ kind: 'zab.ReadIndex', round }));
    // Otherwise at the next tick, as every repeat is.
    if (registerNow) this.register();
  }

  /**
   * FOLLOWERINFO opens the session. The leader may not know yet that it leads (its finalize
   * wait can end after ours), so it is repeated every tick until LEADERINFO comes, as
   * ZooKeeper's learner retries its connection to the leader.
   */
  private register(): void {
    const { config, durable } = this.context;
    this.context.replica.send({
      kind: 'zab.FollowerInfo',
      src: config.self,
      dst: this.leader,
      group: config.group,
      session: this.session,
      seq: 0,
      acceptedEpoch: durable.acceptedEpoch,
      voter: durable.voter,
    });
    this.sendSeq = 1;
  }

  /** Serving (UPTODATE received): stale reads and forwarded requests are meaningful. */
  get serving(): boolean {
    return this.phase === 'broadcast';
  }

  end(): void {
    this.reads.end();
    // A snapshot received whole lands anyway (durable-state.ts waits for it); a partial one goes.
    if (this.sync?.install != null && !this.sync.lastPieceIn) this.sync.install.abort();
  }

  /**
   * The state store finished something: the snapshot pieces it has written are acknowledged
   * (the leader's window then bounds what waits in memory for the disk), and a snapshot
   * received whole is installed once it is durable, and only then is its last piece
   * acknowledged, so the leader sends what follows only to a follower whose state is the
   * snapshot's (and a crash from here on restarts from it).
   */
  onStateProgress(): void {
    const sync = this.sync;
    if (sync?.install == null || sync.snapshotDone) return;
    const installed = sync.lastPieceIn && sync.install.installed;
    this.acknowledgeWritten(installed);
    if (!installed) return;
    sync.snapshotDone = true;
    this.send({ kind: 'zab.SnapAck', zxid: sync.point, piece: sync.nextPiece - 1 });
  }

  /**
   * Acknowledges, in order, the pieces received and written (or nearly: SNAP_UNWRITTEN_PIECES),
   * all but the last (see onStateProgress); while some wait for the store, the state is polled
   * again once the events at hand are handled.
   */
  private acknowledgeWritten(installed: boolean): void {
    const sync = this.sync!;
    const install = sync.install!;
    const received = sync.lastPieceIn ? sync.nextPiece - 1 : sync.nextPiece;
    const writing = install.piecesWritten + SNAP_UNWRITTEN_PIECES;
    const through = installed ? received : Math.min(received, writing);
    while (sync.piecesAcked < through) {
      this.send({ kind: 'zab.SnapAck', zxid: sync.point, piece: sync.piecesAcked++ });
    }
    if (sync.piecesAcked < received) this.context.replica.requestStatePoll();
  }

  /** Storage made writes durable through `seq`: continue what waited for them. */
  onDurable(seq: number): void {
    this.waiters.release(seq);
  }

  /**
   * The events at hand are handled: the reads that came with them share one ReadIndex round,
   * and the next slice of what is known committed is applied.
   */
  onBurstEnd(): void {
    this.applyCommitted();
    this.reads.onBurstEnd();
  }

  /** A linearizable read, served here once the leader has vouched for it. */
  submitRead(read: KvReadOperation, reply: Reply): void {
    assert(this.serving, 'reads are served by a synced follower only');
    this.reads.submit(read, reply);
  }

  onTick(): void {
    this.reads.onTick();
    this.silentTicks++;
    if (this.phase === 'registering') this.register();
    const { syncLimitTicks, initLimitTicks } = this.context.config;
    // Syncing, a Ping may queue behind a window of snapshot pieces on a slow link: two
    // syncLimits, still far below initLimit.
    const limit =
      this.phase === 'broadcast'
        ? syncLimitTicks
        : this.pinged
          ? Math.min(initLimitTicks, 2 * syncLimitTicks)
          : initLimitTicks;
    if (this.silentTicks > limit) this.fail(`leader ${this.leader} silent for ${limit} ticks`);
  }

  onClose(): void {
    this.fail('leader closed the session');
  }

  onMessage(message: SessionMessage): void {
    if (message.session !== this.session || message.src !== this.leader) return;
    if (message.seq !== this.receiveSeq) {
      this.fail(`gap in the session: seq ${message.seq}, expected ${this.receiveSeq}`);
      return;
    }
    this.receiveSeq++;
    this.silentTicks = 0;
    switch (message.kind) {
      case 'zab.LeaderInfo':
        return this.onLeaderInfo(message.epoch);
      case 'zab.Diff':
      case 'zab.Trunc':
        return this.startSync(message.kind === 'zab.Diff' ? 'diff' : 'trunc', message.zxid);
      case 'zab.Snap':
        return this.onSnapshotPiece(message);
      case 'zab.Proposal':
        return this.onProposal(message.entries);
      case 'zab.NewLeader':
        return this.onNewLeader(message.epoch);
      case 'zab.UpToDate':
        return this.onUpToDate(message.committed);
      case 'zab.Commit':
        return this.onCommit(message.zxid);
      case 'zab.Ping':
        this.pinged = true;
        return this.send({
          kind: 'zab.Pong',
          round: message.round,
          spaceLow: this.context.durable.spaceLow,
          roomy: this.context.durable.spaceRoomy,
        });
      case 'zab.ReadIndexReply':
        return this.reads.onReply(message.round, message.zxid);
    }
  }

  private onLeaderInfo(epoch: number): void {
    if (!this.expect('registering', 'LEADERINFO')) return;
    const { durable } = this.context;
    const { acceptedEpoch } = durable;
    if (epoch < acceptedEpoch) {
      this.fail(`leader proposes epoch ${epoch} below accepted ${acceptedEpoch}`);
      return;
    }
    // Never promised, so never persisted: no leader may reach the maximum (kv/zxid.ts).
    if (epoch >= MAX_EPOCH) return this.refuse('impossible-epoch', `LEADERINFO for epoch ${epoch}`);
    this.epoch = epoch;
    this.phase = 'discovered';
    const ackEpoch = (currentEpoch: number): void =>
      this.send({
        kind: 'zab.AckEpoch',
        currentEpoch,
        lastZxid: durable.history.last,
        committed: durable.committed,
        epochEnds: durable.history.epochEnds(),
      });
    // The promise is durable before it is made (docs/zab-rules.md R2); an equal epoch was
    // promised before.
    if (epoch === acceptedEpoch) ackEpoch(-1);
    else this.waiters.after(durable.acceptEpoch(epoch), () => ackEpoch(durable.currentEpoch));
  }

  private startSync(mode: 'diff' | 'trunc', point: Zxid): void {
    if (!this.expect('discovered', mode.toUpperCase())) return;
    const { durable } = this.context;
    const at = formatZxid(point);
    if (mode === 'trunc') {
      // docs/zab-rules.md R6: never below what is committed, and only to a point it holds.
      if (point < durable.committed) {
        return this.refuse('impossible-zxid', `TRUNC to ${at}, below the commit point`);
      }
      if (!durable.history.contains(point)) {
        return this.refuse('impossible-zxid', `TRUNC to ${at}, not held`);
      }
    } else if (point !== durable.history.last) {
      const last = formatZxid(durable.history.last);
      return this.refuse('impossible-zxid', `DIFF from ${at}, but the log ends at ${last}`);
    }
    this.phase = 'syncing';
    this.sync = { ...NO_SNAPSHOT, mode, point, entries: [] };
  }

  private onSnapshotPiece(message: MessageOf<'zab.Snap'>): void {
    if (this.phase === 'discovered') {
      const { committed } = this.context.durable;
      // Only a diverged history gets a snapshot older than what it applied (sync-plan.ts).
      if (message.zxid < committed) {
        this.context.replica.historyDiverged({
          leader: this.leader,
          committed: formatZxid(committed),
          snapshot: formatZxid(message.zxid),
        });
      }
      const install = this.context.durable.beginInstall(message.zxid);
      this.phase = 'syncing';
      this.sync = { ...NO_SNAPSHOT, mode: 'snap', point: message.zxid, install, entries: [] };
    }
    const sync = this.sync;
    if (
      sync?.install == null ||
      sync.point !== message.zxid ||
      sync.lastPieceIn ||
      message.piece !== sync.nextPiece
    ) {
      return this.refuse('out-of-place', 'snapshot piece out of place');
    }
    // The leader's window: more ahead of the acknowledgements would queue in memory unbounded.
    if (message.piece >= sync.piecesAcked + SNAP_WINDOW_PIECES) {
      return this.refuse('out-of-place', 'snapshot piece beyond the window');
    }
    const bad = sync.install.add(message.data);
    if (bad !== null) return this.refuse('bad-payload', bad);
    sync.nextPiece++;
    if (message.last) {
      sync.lastPieceIn = true;
      this.context.durable.finishInstall(sync.install);
    }
    this.acknowledgeWritten(false);
  }

  private onProposal(entries: readonly (readonly [number, Uint8Array])[]): void {
    const bad = entriesFault(entries);
    if (bad !== null) return this.refuse('bad-payload', bad);
    const stored = entries.map(([zxid, payload]) => ({ zxid, payload }));
    if (this.phase === 'syncing') return this.onSyncEntries(this.sync!, stored);
    if (this.phase !== 'synced' && this.phase !== 'broadcast') {
      return this.refuse('out-of-place', `PROPOSAL in phase ${this.phase}`);
    }
    // Only this leader's epoch, contiguous (docs/zab-rules.md R9): anything else means a lost or
    // stray message.
    const gap = firstGap(this.context.durable.history.last, stored, this.epoch);
    if (gap !== null) return this.refuse('impossible-zxid', `proposal ${gap}`);
    const last = stored.at(-1)!.zxid;
    this.waiters.after(this.context.durable.append(stored), () => {
      this.context.replica.acknowledging(last);
      this.send({ kind: 'zab.Ack', zxid: last });
    });
  }

  /**
   * The entries after the sync's point. A SNAP's go to the log as they come (it restarted after
   * the installed snapshot), not held for NEWLEADER: a SNAP under load can last a minute, and
   * its tail (every write meanwhile) would wait in memory. They extend the snapshot as the
   * leader's history does, so an interrupted sync leaves a prefix of that history under the old
   * currentEpoch, which ranks a vote lower, never higher (docs/zab-rules.md R7).
   */
  private onSyncEntries(sync: SyncBuffer, stored: StoredEntry[]): void {
    const snap = sync.mode === 'snap';
    if (snap && !sync.snapshotDone) {
      return this.refuse('out-of-place', 'PROPOSAL before the snapshot was installed');
    }
    const held = snap
      ? this.context.durable.history.last
      : (sync.entries.at(-1)?.zxid ?? sync.point);
    const gap = firstGap(held, stored, null);
    if (gap !== null) return this.refuse('impossible-zxid', `gap in sync: ${gap}`);
    // Ascending: the last has the highest epoch. Of an epoch past this session's, logged, it
    // would trip the assert of any later leadership of this node (leader.ts, maybeEstablish).
    const newest = stored.at(-1)!.zxid;
    if (epochOf(newest) > this.epoch) {
      return this.refuse(
        'impossible-epoch',
        `sync entry ${formatZxid(newest)} in epoch ${this.epoch}`,
      );
    }
    if (snap) this.context.durable.append(stored);
    else sync.entries.push(...stored);
  }

  /**
   * docs/zab-rules.md R3, in this order: log everything the sync brought, then currentEpoch, then
   * ACK. The
   * storage applies writes in order and durability is prefix-closed, so a crash anywhere in
   * between leaves a prefix of these steps on disk, never currentEpoch without the history.
   */
  private onNewLeader(epoch: number): void {
    if (!this.expect('syncing', 'NEWLEADER')) return;
    if (epoch !== this.epoch) {
      return this.refuse('impossible-epoch', `NEWLEADER for ${epoch}, session for ${this.epoch}`);
    }
    const sync = this.sync!;
    // Refused with the sync in place, which the session's end then aborts (its staged state).
    if (sync.mode === 'snap' && !sync.snapshotDone) {
      return this.refuse('bad-payload', 'snapshot incomplete at NEWLEADER');
    }
    this.sync = null;
    const { durable } = this.context;
    if (sync.mode === 'trunc') {
      durable.truncateAfter(sync.point);
    }
    if (sync.entries.length > 0) durable.append(sync.entries);
    this.phase = 'synced';
    // The ACK vouches for the synced history only; proposals arriving meanwhile are acked later.
    const synced = durable.history.last;
    this.waiters.after(durable.adoptEpoch(epoch), () => {
      this.context.replica.acknowledging(synced);
      this.send({ kind: 'zab.Ack', zxid: makeZxid(epoch, 0) });
    });
  }

  private onUpToDate(committed: Zxid): void {
    if (!this.expect('synced', 'UPTODATE')) return;
    if (committed > this.context.durable.history.last) {
      return this.refuse('impossible-zxid', `UPTODATE at ${formatZxid(committed)}, beyond the log`);
    }
    this.phase = 'broadcast';
    this.commitThrough(Math.max(committed, this.pendingCommit));
    this.context.replica.established(this.epoch);
  }

  private onCommit(zxid: Zxid): void {
    if (this.phase !== 'synced' && this.phase !== 'broadcast') {
      return this.refuse('out-of-place', `COMMIT in phase ${this.phase}`);
    }
    // docs/zab-rules.md R10: a commit names a proposal this follower holds; anything else ends
    // the session (ZooKeeper exits; a peer's message must not stop this node).
    if (!this.context.durable.history.contains(zxid)) {
      return this.refuse('impossible-zxid', `COMMIT ${formatZxid(zxid)} for a proposal not held`);
    }
    if (this.phase === 'broadcast') this.commitThrough(zxid);
    else this.pendingCommit = Math.max(this.pendingCommit, zxid);
  }

  private commitThrough(zxid: Zxid): void {
    // While catching up, a COMMIT only moves the target: the scheduler runs up to 32 events in
    // a turn, and a slice per COMMIT would apply 32 slices in it.
    const catchingUp = this.context.durable.committed < this.commitTarget;
    this.commitTarget = Math.max(this.commitTarget, zxid);
    if (!catchingUp) this.applyCommitted();
  }

  /**
   * Applies one slice of what is known committed; the rest waits for the end of the events at
   * hand (a zero-delay timer, after them), so a long catch-up never holds the event loop and
   * heartbeats, proposals and reads are handled between its slices. Committed entries are in
   * the log, durable or on their way: applying them later changes only when, not what.
   */
  private applyCommitted(): void {
    const { durable } = this.context;
    if (durable.committed >= this.commitTarget) return;
    const sliceEnd = durable.history.sliceEnd(
      durable.committed,
      APPLY_SLICE_ENTRIES_COUNT,
      APPLY_SLICE_BYTES,
    );
    const through = Math.min(this.commitTarget, sliceEnd);
    this.context.replica.commitThrough(through);
    this.reads.serveApplied();
    if (through < this.commitTarget) this.context.replica.requestBurstEnd();
  }

  private expect(phase: Phase, what: string): boolean {
    if (this.phase === phase) return true;
    this.refuse('out-of-place', `${what} in phase ${this.phase}`);
    return false;
  }

  private send(message: Outgoing): void {
    const { self, group } = this.context.config;
    this.context.replica.send({
      ...message,
      src: self,
      dst: this.leader,
      group,
      session: this.session,
      seq: this.sendSeq++,
    });
  }

  /** The leader sent something impossible: counted, then the session ends as on any failure. */
  private refuse(reason: RefuseReason, why: string): void {
    this.context.replica.rejectPeer(reason, { leader: this.leader, why });
    this.fail(why, true);
  }

  /** Ends the session and this role; callers return at once. */
  private fail(reason: string, refused = false): void {
    this.context.replica.closeSession(this.leader, this.session);
    this.context.replica.lookForLeader(reason, refused);
  }
}

/**
 * Where `entries` (at least one) stop following `previous` one by one, and, given `epoch`,
 * leave it; null if they never do.
 */
function firstGap(
  previous: Zxid,
  entries: readonly StoredEntry[],
  epoch: number | null,
): string | null {
  for (const { zxid } of entries) {
    if ((epoch !== null && epochOf(zxid) !== epoch) || !follows(previous, zxid)) {
      return `${formatZxid(zxid)} does not follow ${formatZxid(previous)}`;
    }
    previous = zxid;
  }
  return null;
}
