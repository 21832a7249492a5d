import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import type { KvLogged } from '../../kv/kv-operation.js';
import type { ChangesApplied, StateRestored } from '../../replica/applied-changes-port.js';
import { ChangeFeed } from '../../replica/change-feed.js';
import { MemoryStateDisk, MemoryStateStore } from '../../state/memory-state-store.js';
import { applyLogged, type StateChange } from '../../state/state-store.js';

const v = (text: string): Uint8Array => Buffer.from(text);

function show(changes: readonly StateChange[]): string[] {
  return changes.map(({ key, value }) =>
    value === undefined ? `-${key}` : `${key}=${Buffer.from(value).toString()}`,
  );
}

function store(): MemoryStateStore {
  return new MemoryStateStore(new MemoryStateDisk(new SeededRandom(1)));
}

describe('StateStore.lastChanges: events come from apply outcomes', () => {
  it('holds what each apply changed, and nothing for one that changed nothing', () => {
    const state = store();
    const steps: [KvLogged, string[]][] = [
      [{ op: 'put', key: 'a', value: v('1') }, ['a=1']],
      [{ op: 'put', key: 'b', value: v('2') }, ['b=2']],
      [{ op: 'put', key: 'a', value: v('3'), condition: { ifMatch: 2 } }, []], // a is at 1
      [{ op: 'put', key: 'a', value: v('4'), condition: { ifMatch: 1 } }, ['a=4']],
      [{ op: 'put', key: 'b', value: v('5'), condition: { ifNoneMatch: '*' } }, []],
      [{ op: 'delete', key: 'absent' }, []],
      [{ op: 'delete', key: 'b', condition: { ifMatch: 99 } }, []],
      [{ op: 'delete', key: 'b' }, ['-b']],
      [
        {
          op: 'txn',
          compare: [{ key: 'a', version: 4 }],
          success: [
            { op: 'put', key: 't/2', value: v('x') },
            { op: 'get', key: 'a' },
            { op: 'delete', key: 'a' },
            { op: 'put', key: 't/1', value: v('y') },
            { op: 'delete', key: 'never' },
          ],
          failure: [{ op: 'put', key: 'f', value: v('no') }],
        },
        ['t/2=x', '-a', 't/1=y'],
      ],
      [
        {
          op: 'txn',
          compare: [{ key: 'a', version: 4 }], // a is gone now: the failure branch runs
          success: [{ op: 'put', key: 's', value: v('no') }],
          failure: [{ op: 'put', key: 'f', value: v('yes') }],
        },
        ['f=yes'],
      ],
      [
        {
          op: 'txn',
          compare: [{ key: 'zz', version: 0 }],
          success: [{ op: 'get', key: 'f' }],
          failure: [],
        },
        [],
      ],
      [{ op: 'deleteRange', group: 1, prefix: 't/', limit: 100 }, ['-t/1', '-t/2']],
    ];
    steps.forEach(([operation, want], i) => {
      applyLogged(state, i + 1, operation);
      expect(show(state.lastChanges), `${i + 1}: ${operation.op}`).toEqual(want);
    });
  });

  it('a later apply does not change what an earlier one reported (the feed keeps it)', () => {
    const state = store();
    applyLogged(state, 1, { op: 'put', key: 'a', value: v('1') });
    const first = state.lastChanges;
    applyLogged(state, 2, { op: 'put', key: 'b', value: v('2') });
    applyLogged(state, 3, { op: 'delete', key: 'a' });
    expect(show(first)).toEqual(['a=1']);
  });
});

describe('ChangeFeed', () => {
  function feed() {
    const emitted: (ChangesApplied | StateRestored)[] = [];
    const seen: string[] = [];
    const changeFeed = new ChangeFeed(
      4,
      nodeId(2),
      {
        applied: (node, zxid) => seen.push(`applied ${node} ${zxid}`),
        restored: (node, zxid) => seen.push(`restored ${node} ${zxid}`),
      },
      (event) => emitted.push(event),
    );
    return { changeFeed, emitted, seen };
  }
  const change = (key: string): StateChange[] => [{ key, value: v('x') }];

  it('hands on the entries that changed something once per commit, with the applied zxid', () => {
    const { changeFeed, emitted, seen } = feed();
    changeFeed.applied(1, new Uint8Array(), false, change('a'));
    changeFeed.applied(2, new Uint8Array(), false, []); // a failed condition
    changeFeed.applied(3, new Uint8Array(), true, change('b'));
    expect(emitted).toEqual([]);
    changeFeed.flush(3);
    changeFeed.flush(4); // a commit of entries that changed nothing still moves watchers on
    expect(emitted).toEqual([
      {
        kind: 'ChangesApplied',
        group: 4,
        entries: [
          { zxid: 1, txn: false, changes: change('a') },
          { zxid: 3, txn: true, changes: change('b') },
        ],
        applied: 3,
      },
      { kind: 'ChangesApplied', group: 4, entries: [], applied: 4 },
    ]);
    expect(seen).toEqual(['applied 2 1', 'applied 2 2', 'applied 2 3']);
  });

  it('a restore drops what was applied but not yet handed on, and says where the state is', () => {
    const { changeFeed, emitted, seen } = feed();
    changeFeed.applied(5, new Uint8Array(), false, change('a'));
    changeFeed.restored(3);
    changeFeed.flush(3);
    expect(emitted).toEqual([
      { kind: 'StateRestored', group: 4, applied: 3 },
      { kind: 'ChangesApplied', group: 4, entries: [], applied: 3 },
    ]);
    expect(seen).toEqual(['applied 2 5', 'restored 2 3']);
  });
});
