import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { LookupTable, hashTag, keyHash } from '../../bootstrap/lookup-table.js';
import { placementOf } from '../../frontend/key-placement.js';

// Redis Cluster's rule: the first `{`, the first `}` after it, and at least one character between.
const cases: readonly [key: string, tag: string | null][] = [
  ['plain', null],
  ['{user42}/cart', 'user42'],
  ['{user42}/profile', 'user42'],
  ['prefix/{user42}', 'user42'],
  ['{}', null],
  ['{}{a}', null], // the first `{` has an empty tag: the whole key is hashed
  ['{', null],
  ['}', null],
  ['}{a}', 'a'], // a `}` before the first `{` does not count
  ['a{b}c{d}', 'b'], // only the first tag
  ['{a{b}c}', 'a{b'], // the first `}` after the first `{` closes it
  ['{{}}', '{'],
  ['{ }', ' '],
  ['a{b', null],
  ['{ключ}/значение', 'ключ'],
  ['{😀}x', '😀'],
  ['😀{x}', 'x'],
];

describe('hash tags', () => {
  it.each(cases)('%j has tag %j', (key, tag) => {
    expect(hashTag(key)).toBe(tag);
    expect(keyHash(key)).toBe(crc32(Buffer.from(tag ?? key, 'utf8')));
  });

  it('keeps the hash of every key without a tag: CRC-32 of its UTF-8 bytes, as before tags', () => {
    for (const key of ['plain', '{}', '{', '}', 'a{b', 'ключ', '😀', 'k}{']) {
      expect(keyHash(key)).toBe(crc32(Buffer.from(key, 'utf8')));
    }
  });

  it('puts keys with one tag into one group, whatever else they hold', () => {
    const nodes = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((id) => ({
      id: nodeId(id),
      peer: { host: '127.0.0.1', port: 7000 + id },
      http: { host: '127.0.0.1', port: 8000 + id },
    }));
    const table = LookupTable.assign(1, nodes, 3);
    const groups = new Set<number>();
    for (let i = 0; i < 200; i++) groups.add(table.groupOfKey(`{order:7}/item/${i}`).id);
    expect(groups.size).toBe(1);
    expect(table.groupOfKey('x{order:7}').id).toBe([...groups][0]);
    const status = {
      formed: true as const,
      node: nodeId(1),
      version: 1,
      groups: table.groups.map((g) => ({
        id: g.id,
        ranges: table.ranges().filter((r) => r.group === g.id),
        members: [],
        leader: null,
      })),
    };
    for (const key of ['{order:7}/a', 'plain', 'ключ', '{}x']) {
      expect(placementOf(status, key)).toEqual({
        key,
        tag: hashTag(key),
        hash: keyHash(key),
        group: table.groupOfKey(key).id,
        tableVersion: 1,
      });
    }
  });
});
