import { describe, expect, it } from 'vitest';
import type { EntryChanges } from '../../replica/applied-changes-port.js';
import { ChangeHistory, type HistoryRead } from '../../watch/change-history.js';
import { HeldPolls, MAX_SCANNED_PER_READ } from '../../watch/held-polls.js';
import type { WatchFilter } from '../../watch/watch-port.js';

const BEHIND_TICKS = 4;
const A: WatchFilter = { prefixes: ['a'], keys: [] };

function put(zxid: number, key: string): EntryChanges {
  return { zxid, txn: false, changes: [{ key, value: Buffer.from(`v${zxid}`) }] };
}

/** A replica's history at 10, its held polls, and how each poll was answered. */
function setup(limits = { maxEntries: 1_000, maxBytes: 1 << 30 }) {
  const history = new ChangeHistory(1, 10, limits);
  const polls = new HeldPolls(history, BEHIND_TICKS);
  const answers = new Map<string, string[]>();
  const serve = (
    name: string,
    after: number | null,
    waitTicks: number,
    filter = A,
    serving = true,
  ) =>
    polls.serve(
      {
        after,
        filter,
        maxBytes: 1 << 20,
        waitTicks,
        answer: (read) => answers.set(name, [...(answers.get(name) ?? []), show(read)]),
      },
      serving,
    );
  const apply = (entries: EntryChanges[], applied: number) =>
    polls.onApplied(history.append(entries, applied), applied);
  const ticks = (n: number) => {
    for (let i = 0; i < n; i++) polls.onTick();
  };
  return { history, polls, answers, serve, apply, ticks };
}

function show(read: HistoryRead): string {
  if (typeof read === 'string') return read;
  return `${read.events.map((e) => `${e.zxid}:${e.changes.map((c) => c.key).join('+')}`).join(' ')}@${read.cursor}`;
}

describe('HeldPolls', () => {
  it('answers at once a poll with something to say, a compacted one, and one that does not wait', () => {
    const s = setup({ maxEntries: 2, maxBytes: 1 << 30 });
    s.apply([put(11, 'a1'), put(12, 'b'), put(13, 'a2')], 13);
    s.serve('events', 11, 10);
    s.serve('compacted', 10, 10);
    s.serve('quiet, no wait', 13, 0);
    s.serve('now, no wait', null, 0);
    s.serve('behind, no wait', 20, 0);
    expect(Object.fromEntries(s.answers)).toEqual({
      events: ['13:a2@13'],
      compacted: ['compacted'],
      'quiet, no wait': ['@13'],
      'now, no wait': ['@13'],
      'behind, no wait': ['behind'],
    });
    expect(s.polls.size).toBe(0);
  });

  it('answers at once a read cut short by the scan limit, at the cursor it reached', () => {
    const s = setup({ maxEntries: MAX_SCANNED_PER_READ + 10, maxBytes: 1 << 30 });
    const entries = Array.from({ length: MAX_SCANNED_PER_READ + 5 }, (_, i) => put(11 + i, 'b'));
    s.apply(entries, 10 + entries.length);
    s.serve('far behind', 10, 100);
    expect(s.answers.get('far behind')).toEqual([`@${10 + MAX_SCANNED_PER_READ}`]);
    expect(s.polls.size).toBe(0);
  });

  it('holds a quiet poll until a matching change, moving its position on the others', () => {
    const s = setup();
    s.serve('quiet', 10, 100);
    s.serve('from now', null, 100);
    expect(s.polls.size).toBe(2);
    s.apply([put(11, 'b1'), put(12, 'b2')], 13);
    s.apply([], 14); // entries that changed nothing still move the applied zxid
    expect(s.answers.size).toBe(0);
    s.ticks(50);
    s.apply([put(15, 'b3'), put(16, 'a1'), put(17, 'a2')], 17);
    expect(s.answers.get('quiet')).toEqual(['16:a1 17:a2@17']);
    expect(s.answers.get('from now')).toEqual(['16:a1 17:a2@17']);
    expect(s.polls.size).toBe(0);
    s.apply([put(18, 'a3')], 18);
    expect(s.answers.get('quiet')).toHaveLength(1); // answered exactly once
  });

  it('answers a quiet poll with an empty batch at its position when its wait ends', () => {
    const s = setup();
    s.serve('quiet', 10, 3);
    s.apply([put(11, 'b')], 12);
    s.ticks(2);
    expect(s.answers.size).toBe(0);
    s.ticks(1);
    expect(s.answers.get('quiet')).toEqual(['@12']);
    expect(s.polls.size).toBe(0);
  });

  it('holds a poll ahead of the replica until it catches up, then serves it', () => {
    const s = setup();
    s.serve('ahead', 12, 100);
    s.apply([put(11, 'a0')], 11); // before its cursor: not for it
    expect(s.answers.size).toBe(0);
    s.apply([put(12, 'b'), put(13, 'a1')], 13);
    expect(s.answers.get('ahead')).toEqual(['13:a1@13']);
  });

  it('a poll that caught up with nothing to say waits on, at its position', () => {
    const s = setup();
    s.serve('ahead', 12, 100);
    s.apply([put(11, 'a0'), put(12, 'a0')], 13);
    expect(s.answers.size).toBe(0);
    s.apply([put(14, 'a1')], 14);
    expect(s.answers.get('ahead')).toEqual(['14:a1@14']);
  });

  it('says behind when the replica does not catch up in BEHIND_HOLD ticks, even to a longer wait', () => {
    const s = setup();
    s.serve('ahead', 20, 100);
    s.serve('ahead, short wait', 20, 2);
    s.ticks(2);
    expect(s.answers.get('ahead, short wait')).toEqual(['behind']);
    expect(s.answers.has('ahead')).toBe(false);
    s.ticks(BEHIND_TICKS - 2);
    expect(s.answers.get('ahead')).toEqual(['behind']);
  });

  it('a replica without a leader answers what it has and holds nothing: else behind', () => {
    const s = setup({ maxEntries: 2, maxBytes: 1 << 30 });
    s.apply([put(11, 'a1'), put(12, 'b'), put(13, 'a2')], 14);
    s.serve('events', 12, 100, A, false);
    s.serve('compacted', 10, 100, A, false);
    s.serve('quiet', 13, 100, A, false);
    s.serve('ahead', 20, 100, A, false);
    s.serve('quiet, no wait', 13, 0, A, false);
    expect(Object.fromEntries(s.answers)).toEqual({
      events: ['13:a2@14'],
      compacted: ['compacted'],
      quiet: ['behind'],
      ahead: ['behind'],
      'quiet, no wait': ['@14'],
    });
    expect(s.polls.size).toBe(0);
  });

  it('drops a cancelled poll: it is never answered', () => {
    const s = setup();
    const cancel = s.serve('gone', 10, 100);
    s.serve('stays', 10, 100);
    cancel();
    expect(s.polls.size).toBe(1);
    s.apply([put(11, 'a')], 11);
    s.ticks(200);
    expect([...s.answers.keys()]).toEqual(['stays']);
    cancel(); // twice: harmless
  });

  it('after a reload behind what it had applied: held polls move on from what they saw', () => {
    const s = setup();
    s.apply([put(11, 'b'), put(12, 'b'), put(13, 'b')], 13);
    s.serve('at 13', 13, 100);
    s.serve('at 11', 11, 100);
    // Reload at 12: nothing matched through 13, which will be applied again, the same.
    s.history.restore(12);
    s.polls.onRestored(13);
    expect(Object.fromEntries(s.answers)).toEqual({ 'at 13': ['@13'], 'at 11': ['@13'] });
    // Their next poll waits for this replica to apply 13 again.
    s.serve('again', 13, 100);
    expect(s.answers.has('again')).toBe(false);
    s.apply([put(13, 'b'), put(14, 'a')], 14);
    expect(s.answers.get('again')).toEqual(['14:a@14']);
  });

  it('after a snapshot beyond its position: a held poll gets an empty batch at its position', () => {
    const s = setup();
    s.serve('quiet', 10, 100);
    s.serve('ahead', 30, 100);
    s.history.restore(20);
    s.polls.onRestored(10);
    expect(s.answers.get('quiet')).toEqual(['@10']);
    expect(s.answers.has('ahead')).toBe(false);
    s.apply([put(30, 'b'), put(31, 'a')], 31);
    expect(s.answers.get('ahead')).toEqual(['31:a@31']);
  });

  it('releaseAll answers every held poll with what it has', () => {
    const s = setup();
    s.serve('quiet', 10, 100);
    s.serve('ahead', 30, 100);
    s.apply([put(11, 'b')], 11);
    s.polls.releaseAll();
    expect(Object.fromEntries(s.answers)).toEqual({ quiet: ['@11'], ahead: ['behind'] });
    expect(s.polls.size).toBe(0);
  });
});
