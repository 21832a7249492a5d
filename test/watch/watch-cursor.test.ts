import { describe, expect, it } from 'vitest';
import {
  advanceCursor,
  formatCursor,
  parseCursor,
  type WatchCursor,
} from '../../watch/watch-cursor.js';

function cursor(tableVersion: number, groups: [number, number][]): WatchCursor {
  return { tableVersion, groups: new Map(groups) };
}

function parsed(text: string): WatchCursor {
  const result = parseCursor(text);
  if ('error' in result) throw new Error(`${text}: ${result.error}`);
  return result;
}

describe('watch cursor text', () => {
  it('round-trips through its text, groups in increasing order whatever the map order', () => {
    const cases: [WatchCursor, string][] = [
      [cursor(1, []), 't1;'],
      [cursor(1, [[0, 4294967338]]), 't1;0=4294967338'],
      [
        cursor(7, [
          [12, 5],
          [0, 4294967338],
          [3, 0],
        ]),
        't7;0=4294967338,3=0,12=5',
      ],
      [cursor(4294967295, [[99999, Number.MAX_SAFE_INTEGER]]), `t4294967295;99999=${2 ** 53 - 1}`],
    ];
    for (const [value, text] of cases) {
      expect(formatCursor(value)).toBe(text);
      const back = parsed(text);
      expect(back.tableVersion).toBe(value.tableVersion);
      expect([...back.groups].sort(([a], [b]) => a - b)).toEqual(
        [...value.groups].sort(([a], [b]) => a - b),
      );
      expect(formatCursor(back)).toBe(text);
    }
  });

  const malformed: [string, string][] = [
    ['too long', `t1;${Array.from({ length: 800 }, (_, i) => `${i}=1`).join(',')}`],
    ['too many groups', `t1;${Array.from({ length: 257 }, (_, i) => `${i}=1`).join(',')}`],
    ['table version 0', 't0;1=5'],
    ['no table', ';1=5'],
    ['a table that is not a number', 'tx;1=5'],
    ['a table of 11 digits', 't12345678901;1=5'],
    ['a missing semicolon', 't1'],
    ['a group named twice', 't1;1=5,1=6'],
    ['a zxid beyond a safe integer', 't1;1=9007199254740992'],
    ['a zxid of 17 digits', 't1;1=12345678901234567'],
    ['a group of 6 digits', 't1;123456=1'],
    ['empty groups after the separator', 't1;,'],
    ['a trailing comma', 't1;1=5,'],
    ['a negative zxid', 't1;1=-5'],
    ['a missing zxid', 't1;1='],
    ['a missing group', 't1;=5'],
    ['spaces', 't1; 1=5'],
    ['a decimal point', 't1;1=5.0'],
    ['junk after the groups', 't1;1=5;x'],
    ['the empty text', ''],
    ['junk', 'hello'],
    ['a newline at the end', 't1;1=5\n'],
  ];
  for (const [what, text] of malformed) {
    it(`gives an error object, never a cursor or a throw: ${what}`, () => {
      const result = parseCursor(text);
      expect(result).toEqual({ error: expect.any(String) });
    });
  }

  it('names the fault it found', () => {
    expect(parseCursor('t1;1=5,1=6')).toEqual({ error: 'cursor names group 1 twice' });
    expect(parseCursor('t1;1=9007199254740992')).toEqual({ error: 'cursor zxid out of range' });
    expect(parseCursor('t0;')).toEqual({ error: 'cursor table version must be at least 1' });
    expect(parseCursor('x'.repeat(5000))).toEqual({ error: 'cursor too long' });
  });

  it('accepts a cursor with no groups (a watch of a table with none yet)', () => {
    expect(parsed('t3;').groups.size).toBe(0);
  });
});

describe('advanceCursor', () => {
  it('moves a group forward, adds a new one, and never goes backwards', () => {
    const start = cursor(2, [
      [0, 10],
      [1, 20],
    ]);
    const forward = advanceCursor(start, 0, 15);
    expect(formatCursor(forward)).toBe('t2;0=15,1=20');
    expect(formatCursor(start)).toBe('t2;0=10,1=20'); // the original is not changed
    expect(formatCursor(advanceCursor(start, 5, 1))).toBe('t2;0=10,1=20,5=1');
    expect(advanceCursor(start, 1, 19)).toBe(start);
    expect(advanceCursor(start, 1, 20)).toBe(start);
    expect(advanceCursor(start, 1, 0)).toBe(start);
  });

  it('over any sequence of moves, each group holds the greatest zxid it was given', () => {
    let state = cursor(1, []);
    const greatest = new Map<number, number>();
    let x = 12345;
    for (let i = 0; i < 500; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const group = x % 4;
      const zxid = (x >> 8) % 1000;
      const before = state.groups.get(group);
      state = advanceCursor(state, group, zxid);
      greatest.set(group, Math.max(greatest.get(group) ?? -1, zxid));
      expect(state.groups.get(group)).toBe(Math.max(before ?? -1, zxid));
    }
    expect(new Map(state.groups)).toEqual(greatest);
  });
});
