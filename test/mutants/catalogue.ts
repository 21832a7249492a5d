/**
 * The planted bugs `npm run mutants` runs (issue 15, item 6): each a small edit to a copy of
 * the tree and the tests that must then fail. An edit names a file, a snippet that must occur
 * in it exactly once, and its replacement, so that unrelated changes to the file leave the
 * mutant working and a change to the snippet itself stops the run with a message saying which
 * mutant to update (rather than a line-numbered diff silently applying elsewhere).
 *
 * Keep each mutant to the smallest change that makes the bug, and its tests to those that
 * should catch it (a file, a test name pattern, a seed count): the whole suite per mutant
 * would take hours on two cores.
 */

export interface MutantEdit {
  /** Path from the repository root. */
  readonly file: string;
  /** Text that must occur exactly once in the file. */
  readonly find: string;
  readonly replace: string;
}

export interface Mutant {
  /** Short, unique, used by --only. */
  readonly name: string;
  /** The bug it plants, as a reviewer would describe it. */
  readonly bug: string;
  readonly edits: readonly MutantEdit[];
  /** Test files (vitest) expected to catch it. */
  readonly tests: readonly string[];
  /** Only tests whose name matches (vitest -t). */
  readonly testNamePattern?: string;
  /** Extra environment for the run, e.g. a seed count. */
  readonly env?: Readonly<Record<string, string>>;
}

export const MUTANTS: readonly Mutant[] = [
  // ---- the eight of the audit of b2509c4 ----------------------------------------------------
  {
    name: 'read-without-quorum-round',
    bug: 'the leader serves a linearizable read from its own state, without its quorum round',
    edits: [
      {
        file: 'replica/leader-reads.ts',
        find: `    this.reads.push({ kind: 'local', key, reply, round: this.lastSentRound + 1 });
    this.completeRounds();`,
        replace: `    const { machine } = this.context.durable;
    this.context.requests.answer(reply, machine.get(key), machine.appliedZxid);`,
      },
    ],
    tests: ['test/sim/stall.test.ts'],
  },
  {
    name: 'wal-torn-middle-segment',
    bug: 'a torn record at the end of a middle WAL segment is taken for a torn tail',
    edits: [
      {
        file: 'components/storage/wal-files.ts',
        find: `    if (replayed.end === 'torn') {
      if (!last) return damaged();`,
        replace: `    if (replayed.end === 'torn') {`,
      },
    ],
    tests: ['test/storage/wal-damage.test.ts'],
  },
  {
    name: 'forwarded-write-answered-twice',
    bug: 'a forwarded request stays pending once answered, so its deadline answers it again',
    edits: [
      {
        file: 'kv/pending-requests.ts',
        find: `    if (entry !== undefined) this.pending.delete(id);
    return entry?.request;`,
        replace: `    return entry?.request;`,
      },
    ],
    tests: ['test/sim/zab-requests.test.ts', 'test/sim/overlay.test.ts'],
  },
  {
    name: 'commit-before-quorum-ack',
    bug: 'the leader commits the highest zxid any replica holds, not one a quorum holds',
    edits: [
      {
        file: 'replica/leader-proposals.ts',
        find: `    const point = quorumValue(acked, (count) => this.context.replica.isQuorum(count));`,
        replace: `    const point = Math.max(...acked);`,
      },
    ],
    tests: ['test/sim/zab-basic.test.ts', 'test/sim/zab-random.test.ts'],
    env: { ZABKV_SEEDS: '40' },
  },
  {
    name: 'ack-before-durable',
    bug: 'a follower ACKs a proposal before its log write is durable',
    edits: [
      {
        file: 'replica/follower.ts',
        find: `    this.waiters.after(this.context.durable.append(stored), () => {
      this.context.replica.acknowledging(last);
      this.send({ kind: 'zab.Ack', zxid: last });
    });`,
        replace: `    this.context.durable.append(stored);
    this.context.replica.acknowledging(last);
    this.send({ kind: 'zab.Ack', zxid: last });`,
      },
    ],
    tests: ['test/sim/zab-basic.test.ts', 'test/sim/zab-random.test.ts'],
    env: { ZABKV_SEEDS: '40' },
  },
  {
    name: 'wal-keeps-torn-tail',
    bug: 'WAL recovery keeps what a torn batch left after the last whole record',
    edits: [
      {
        file: 'components/storage/wal-storage.ts',
        find: `if (last !== undefined && last.dirtyBytes > last.validBytes) {`,
        replace: `if (last !== undefined && last.dirtyBytes < 0) {`,
      },
    ],
    tests: ['test/storage/wal-storage.test.ts'],
    testNamePattern: 'torn',
  },
  {
    name: 'if-match-wrong-version',
    bug: 'If-Match holds for any version at or above the current one, not only for it',
    edits: [
      {
        file: 'state/write-rules.ts',
        find: `condition.ifMatch === current.version`,
        replace: `condition.ifMatch >= current.version`,
      },
    ],
    tests: ['test/http/http-frontend.test.ts'],
  },
  {
    name: 'ack-epoch-before-durable',
    bug: 'a follower promises a new epoch (ACKEPOCH) before acceptedEpoch is durable',
    edits: [
      {
        file: 'replica/follower.ts',
        find: `    else this.waiters.after(durable.acceptEpoch(epoch), () => ackEpoch(durable.currentEpoch));`,
        replace: `    else {
      durable.acceptEpoch(epoch);
      ackEpoch(durable.currentEpoch);
    }`,
      },
    ],
    tests: ['test/sim/zab-regressions.test.ts', 'test/sim/zab-random.test.ts'],
    testNamePattern: 'ZOOKEEPER-335|replicas',
    env: { ZABKV_SEEDS: '40' },
  },
  // ---- one per part of the protocol the audit did not plant in --------------------------------
  {
    name: 'election-ignores-zxid',
    bug: 'a vote for a longer history does not beat one for a shorter one of the same epoch',
    edits: [
      {
        file: 'replica/election.ts',
        find: `  if (candidate.zxid !== current.zxid) return candidate.zxid > current.zxid;\n`,
        replace: ``,
      },
    ],
    tests: ['test/sim/zab-basic.test.ts', 'test/sim/zab-regressions.test.ts'],
  },
  {
    name: 'sync-trunc-point',
    bug: 'TRUNC names the follower’s last zxid, so it keeps entries the leader never had',
    edits: [
      {
        file: 'replica/sync-plan.ts',
        find: `    stream.push({ kind: 'zab.Trunc', zxid: point });`,
        replace: `    stream.push({ kind: 'zab.Trunc', zxid: follower.lastZxid });`,
      },
    ],
    tests: ['test/sim/zab-regressions.test.ts'],
    testNamePattern: 'ZOOKEEPER-1154|trunc sync',
  },
  {
    // Removing only `read.readIndex <= applied` is an equivalent mutant here: the ReadIndex
    // reply travels behind the COMMITs it covers on one FIFO session, and a follower applies
    // at COMMIT, so it has always applied that far when the reply arrives.
    name: 'follower-read-before-applied',
    bug: 'a follower serves a waiting linearizable read at the next COMMIT, before its read index is known',
    edits: [
      {
        file: 'replica/follower-reads.ts',
        find: `if (read.readIndex !== null && read.readIndex <= applied) {`,
        replace: `if (read.readIndex === null || read.readIndex <= applied) {`,
      },
    ],
    tests: ['test/sim/zab-requests.test.ts', 'test/sim/zab-random.test.ts'],
    env: { ZABKV_SEEDS: '40' },
  },
  {
    name: 'overlay-stale-table',
    bug: 'a node runs a request routed to a group it is not in (the sender’s table was stale)',
    edits: [
      {
        file: 'overlay/overlay.ts',
        find: `    if (mine === undefined || mine.id !== message.group) {`,
        replace: `    if (mine === undefined) {`,
      },
    ],
    tests: ['test/overlay/peer-input.test.ts'],
  },
  {
    name: 'http-503-for-unknown-outcome',
    bug: 'an outcome that is unknown (the write may have happened) is answered 503 "did not happen"',
    edits: [
      {
        file: 'frontend/http-errors.ts',
        find: `  Indeterminate: {
    status: 504,`,
        replace: `  Indeterminate: {
    status: 503,`,
      },
    ],
    tests: ['test/http/http-frontend.test.ts'],
  },
  {
    name: 'snapshot-install-wrong-zxid',
    bug: 'a follower installs a SNAP as of one zxid before the one the leader streamed',
    edits: [
      {
        file: 'replica/follower.ts',
        find: `const install = this.context.durable.beginInstall(message.zxid);`,
        replace: `const install = this.context.durable.beginInstall(message.zxid - 1);`,
      },
    ],
    tests: ['test/sim/zab-regressions.test.ts'],
    testNamePattern: 'SNAP|snap sync',
  },
];
