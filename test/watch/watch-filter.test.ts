import { describe, expect, it } from 'vitest';
import { MAX_KEY_BYTES } from '../../components/limits.js';
import { FilterIndex } from '../../watch/filter-index.js';
import { eventMatching, filterMatches, filterProblem } from '../../watch/watch-filter.js';
import {
  WATCH_FILTER_MAX_ENTRIES,
  type WatchEvent,
  type WatchFilter,
} from '../../watch/watch-port.js';

const f = (prefixes: string[], keys: string[] = []): WatchFilter => ({ prefixes, keys });

describe('filterProblem', () => {
  const cases: [string, WatchFilter, string | null][] = [
    ['one key', f([], ['k']), null],
    ['the empty prefix', f(['']), null],
    [
      'as many entries as allowed',
      f(
        ['p'],
        Array.from({ length: WATCH_FILTER_MAX_ENTRIES - 1 }, (_, i) => `${i}`),
      ),
      null,
    ],
    ['a key of MAX_KEY_BYTES bytes', f([], ['é'.repeat(MAX_KEY_BYTES / 2)]), null],
    ['no entry', f([]), 'a watch needs at least one key or prefix'],
    [
      'one entry too many',
      f(
        ['p'],
        Array.from({ length: WATCH_FILTER_MAX_ENTRIES }, (_, i) => `${i}`),
      ),
      `at most ${WATCH_FILTER_MAX_ENTRIES} keys and prefixes in one watch`,
    ],
    [
      'a key one byte too long',
      f([], ['x'.repeat(MAX_KEY_BYTES - 1) + 'é']),
      'a key or prefix is too long',
    ],
    [
      'a prefix too long in bytes, not in characters',
      f(['€'.repeat(MAX_KEY_BYTES / 3 + 1)]),
      'a key or prefix is too long',
    ],
  ];
  for (const [what, filter, problem] of cases) {
    it(`${what}: ${problem ?? 'served'}`, () => expect(filterProblem(filter)).toBe(problem));
  }
});

describe('eventMatching', () => {
  const event: WatchEvent = {
    zxid: 5,
    type: 'txn',
    changes: [
      { key: 'a/1', type: 'put', value: new Uint8Array([1]) },
      { key: 'b', type: 'delete' },
    ],
  };
  it('gives the event itself when every change matches, its matching part, or null', () => {
    expect(eventMatching(f(['']), event)).toBe(event);
    expect(eventMatching(f(['a/'], ['b']), event)).toBe(event);
    expect(eventMatching(f([], ['b']), event)).toEqual({
      zxid: 5,
      type: 'txn',
      changes: [event.changes[1]],
    });
    expect(eventMatching(f(['c']), event)).toBeNull();
    expect(eventMatching(f([], ['a']), event)).toBeNull(); // a key is not a prefix
  });
});

describe('FilterIndex', () => {
  const keys = ['', 'a', 'a/', 'a/1', 'a/12', 'ab', 'b', 'b/1', 'é/1', 'x'];
  const filters: WatchFilter[] = [
    f(['a/']),
    f([], ['a/1', 'b']),
    f(['a', 'a/'], ['a']),
    f(['']),
    f(['é'], ['x', 'x']),
    f(['a/1'], ['a/1']),
  ];

  function matches(index: FilterIndex<number>, key: string): number[] {
    const into = new Set<number>();
    index.matching(key, into);
    return [...into].sort((x, y) => x - y);
  }

  function byScan(live: Set<number>, key: string): number[] {
    return [...live].filter((i) => filterMatches(filters[i]!, key)).sort((x, y) => x - y);
  }

  it('finds exactly the filters that match a key, as trying each would, while filters come and go', () => {
    const index = new FilterIndex<number>();
    const live = new Set<number>();
    const steps: ['add' | 'remove', number][] = [
      ['add', 0],
      ['add', 1],
      ['add', 2],
      ['add', 3],
      ['add', 4],
      ['add', 5],
      ['remove', 3],
      ['remove', 0],
      ['remove', 2],
      ['add', 0],
      ['remove', 5],
      ['remove', 1],
      ['remove', 4],
      ['remove', 0],
    ];
    for (const [step, i] of steps) {
      if (step === 'add') {
        index.add(filters[i]!, i);
        live.add(i);
      } else {
        index.remove(filters[i]!, i);
        live.delete(i);
      }
      for (const key of keys)
        expect(matches(index, key), `${step} ${i}, key '${key}'`).toEqual(byScan(live, key));
    }
    for (const key of keys) expect(matches(index, key)).toEqual([]);
  });

  it('a prefix watched by two filters is still found after one of them goes', () => {
    const index = new FilterIndex<string>();
    index.add(f(['p/']), 'one');
    index.add(f(['p/']), 'two');
    index.remove(f(['p/']), 'one');
    const into = new Set<string>();
    index.matching('p/x', into);
    expect([...into]).toEqual(['two']);
    index.remove(f(['p/']), 'one'); // twice: harmless
    index.matching('p/y', into);
    expect([...into]).toEqual(['two']);
  });
});
