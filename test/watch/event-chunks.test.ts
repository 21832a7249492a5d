import { describe, expect, it } from 'vitest';
import { EventChunks } from '../../watch/event-chunks.js';
import type { WatchEvent } from '../../watch/watch-port.js';

function put(zxid: number, key: string, valueBytes: number): WatchEvent {
  const value = new Uint8Array(valueBytes).fill(zxid % 251);
  return { zxid, type: 'put', changes: [{ key, type: 'put', value }] };
}

function held(chunks: EventChunks, after = -1): WatchEvent[] {
  const events: WatchEvent[] = [];
  chunks.forEachAfter(after, (event) => {
    events.push(event);
    return true;
  });
  return events;
}

describe('EventChunks', () => {
  it('gives back every kind of change as it was appended: deletes, omitted values, transactions, any UTF-8 key', () => {
    const chunks = new EventChunks();
    const events: WatchEvent[] = [
      put(1, 'plain', 3),
      { zxid: 2, type: 'delete', changes: [{ key: 'gone', type: 'delete' }] },
      { zxid: 3, type: 'put', changes: [{ key: 'big', type: 'put', valueOmitted: true }] },
      {
        zxid: 7,
        type: 'txn',
        changes: [
          { key: 'ключ/ü/🔑', type: 'put', value: Uint8Array.of(0, 255, 7) },
          { key: '', type: 'put', value: new Uint8Array(0) },
          { key: 'x', type: 'delete' },
        ],
      },
    ];
    events.forEach((event, i) => chunks.append(event, 10 + i));
    expect(held(chunks)).toEqual(events);
    const counted: number[] = [];
    chunks.forEachAfter(2, (event, c) => {
      counted.push(event.zxid, c);
      return true;
    });
    expect(counted).toEqual([3, 12, 7, 13]);
  });

  it('spans chunks (and an event larger than a chunk) and finds the events after any zxid', () => {
    const chunks = new EventChunks();
    const sizes = new Map<number, number>();
    for (let zxid = 1; zxid <= 400; zxid++) {
      // 10 KB events fill a megabyte chunk every hundred; zxid 150 alone needs 3 MB.
      const bytes = zxid === 150 ? 3 << 20 : 10_000;
      sizes.set(2 * zxid, bytes);
      chunks.append(put(2 * zxid, `k${zxid}`, bytes), zxid);
    }
    expect(chunks.length).toBe(400);
    for (const after of [0, 1, 2, 199, 200, 298, 299, 300, 301, 799, 800]) {
      const events = held(chunks, after);
      const want = [...sizes.keys()].filter((z) => z > after);
      expect(events.map((e) => e.zxid)).toEqual(want);
      for (const event of events.slice(0, 3)) {
        const value = event.changes[0]!.value!;
        expect(value.byteLength).toBe(sizes.get(event.zxid));
        expect(value[value.byteLength - 1]).toBe(event.zxid % 251);
      }
    }
  });

  it('drops from both ends across chunks, and stops a visit when told', () => {
    const chunks = new EventChunks();
    for (let zxid = 1; zxid <= 300; zxid++) chunks.append(put(zxid, 'k', 10_000), zxid);
    for (let zxid = 1; zxid <= 150; zxid++)
      expect(chunks.dropOldest()).toEqual({ zxid, counted: zxid });
    for (let zxid = 300; zxid > 250; zxid--) expect(chunks.dropNewest()).toBe(zxid);
    expect(chunks.length).toBe(100);
    expect(chunks.newestZxid()).toBe(250);
    expect(held(chunks).map((e) => e.zxid)).toEqual(Array.from({ length: 100 }, (_, i) => 151 + i));
    const seen: number[] = [];
    chunks.forEachAfter(160, (event) => {
      seen.push(event.zxid);
      return seen.length < 3;
    });
    expect(seen).toEqual([161, 162, 163]);
    while (chunks.length > 0) chunks.dropOldest();
    expect(chunks.newestZxid()).toBeUndefined();
    expect(held(chunks)).toEqual([]);
  });

  it('hands out copies: a value read holds no chunk, and stays what it was after the event is dropped', () => {
    const chunks = new EventChunks();
    chunks.append(put(1, 'a', 4), 0);
    chunks.append(put(2, 'b', 4), 0);
    const [, before] = held(chunks);
    chunks.dropNewest();
    chunks.append(put(3, 'c', 4), 0);
    expect(Array.from(before!.changes[0]!.value!)).toEqual([2, 2, 2, 2]);
    expect(before!.changes[0]!.value!.buffer.byteLength).toBe(4);
    expect(held(chunks).map((e) => e.changes[0]!.key)).toEqual(['a', 'c']);
  });
});
