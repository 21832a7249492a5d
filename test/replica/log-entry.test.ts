import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import {
  decodeOperation,
  encodeOperation,
  type KvOperation,
  type KvWrite,
} from '../../kv/kv-operation.js';
import { decodeLogEntry, encodeLogEntry, type EntryOrigin } from '../../replica/log-entry.js';

const value = new Uint8Array([0xc1, 0, 255, 9]);
/** The bytes alone: encodeOperation returns a Buffer, decodeLogEntry a Uint8Array view. */
const bytes = (array: Uint8Array): number[] => [...array];
/** An operation with its value as plain bytes (msgpackr decodes a Buffer's value as a Buffer). */
const plain = (op: KvOperation | null): unknown =>
  op?.op === 'put' ? { ...op, value: bytes(op.value) } : op;

const writes: KvWrite[] = [
  { op: 'put', key: 'k', value },
  { op: 'put', key: 'ключ', value, condition: { ifMatch: 2 ** 40 + 3 } },
  { op: 'put', key: 'k', value: new Uint8Array(), condition: { ifMatch: '*' } },
  { op: 'put', key: 'k', value, condition: { ifNoneMatch: '*' } },
  { op: 'delete', key: 'k' },
  { op: 'delete', key: 'k', condition: { ifMatch: 1 } },
  { op: 'delete', key: 'k', condition: { ifNoneMatch: '*' } },
];

function origins(): EntryOrigin[] {
  const random = new SeededRandom(42);
  const fixed = [0, 1, 65535].flatMap((node) =>
    [1, 2 ** 52 - 1].map((requestId) => ({ node: nodeId(node), requestId })),
  );
  const sampled = Array.from({ length: 50 }, () => ({
    node: nodeId(random.int(0, 65535)),
    requestId: random.int(1, 2 ** 52 - 1),
  }));
  return [...fixed, ...sampled];
}

describe('log entry header', () => {
  it('round-trips the origin and the operation', () => {
    for (const origin of origins()) {
      for (const write of writes) {
        const operation = encodeOperation(write);
        const entry = encodeLogEntry(origin, operation);
        expect(entry.length).toBeGreaterThan(operation.length);
        const decoded = decodeLogEntry(entry);
        expect(decoded.origin).toEqual(origin);
        expect(bytes(decoded.operation)).toEqual(bytes(operation));
        expect(plain(decodeOperation(decoded.operation))).toEqual(plain(write));
      }
    }
  });

  it('decodes an entry lying inside a larger buffer', () => {
    const origin = { node: nodeId(513), requestId: 2 ** 52 - 7 };
    const operation = encodeOperation(writes[1]!);
    const entry = encodeLogEntry(origin, operation);
    const backing = new Uint8Array(entry.length + 8).fill(0xee);
    backing.set(entry, 3);
    const decoded = decodeLogEntry(backing.subarray(3, 3 + entry.length));
    expect(decoded.origin).toEqual(origin);
    expect(plain(decodeOperation(decoded.operation))).toEqual(plain(writes[1]));
  });

  it('without an origin, the entry is the operation itself, in a buffer of its own', () => {
    for (const write of writes) {
      const operation = encodeOperation(write);
      const entry = encodeLogEntry(null, operation);
      expect(bytes(entry)).toEqual(bytes(operation));
      // The encoder's output is a view into its shared buffer, which the log must not keep.
      expect(operation.buffer.byteLength).toBeGreaterThan(operation.byteLength);
      expect(entry.buffer.byteLength).toBe(entry.byteLength);
      const decoded = decodeLogEntry(encodeLogEntry(null, operation));
      expect(decoded.origin).toBeNull();
      expect(bytes(decoded.operation)).toEqual(bytes(operation));
    }
  });

  it('reads an entry logged before the header existed as having no origin', () => {
    for (const write of writes) {
      const old = encodeOperation(write);
      const before = bytes(old);
      const decoded = decodeLogEntry(old);
      expect(decoded.origin).toBeNull();
      expect(bytes(decoded.operation)).toEqual(before);
      expect(plain(decodeOperation(decoded.operation))).toEqual(plain(write));
    }
  });
});
