import type { NodeId } from '../components/network/node-id.js';

/**
 * A logged write: the operation as the client's node encoded it, behind a header naming the
 * replica that took the request and its request id (ZooKeeper's TxnHeader carries sessionId
 * and cxid the same way). Every replica applies the entry; the one named answers its client
 * then, so no answer has to travel back from the leader.
 *
 * Layout: 0xc1 (a byte msgpack never uses, so entries logged before the header existed,
 * which start with a msgpack array, still read as having no origin), the origin node id as a
 * u16, the request id as a float64 (an integer below 2^53), then the operation.
 */
const HEADER_MARK = 0xc1;
const HEADER_BYTES = 11;

export interface EntryOrigin {
  readonly node: NodeId;
  readonly requestId: number;
}

/**
 * The entry is a buffer of its own: the log keeps it for as long as it holds the entry, and an
 * encoder's output is a view into the encoder's shared buffer (msgpackr's: megabytes, of which
 * a pinned log kept one per dozen 10 KB writes: 1.3 GB of a SNAP leader's 1.5 GB of buffers).
 */
export function encodeLogEntry(origin: EntryOrigin | null, operation: Uint8Array): Uint8Array {
  if (origin === null) return new Uint8Array(operation);
  const entry = new Uint8Array(HEADER_BYTES + operation.length);
  const view = new DataView(entry.buffer);
  view.setUint8(0, HEADER_MARK);
  view.setUint16(1, origin.node);
  view.setFloat64(3, origin.requestId);
  entry.set(operation, HEADER_BYTES);
  return entry;
}

export function decodeLogEntry(entry: Uint8Array): {
  readonly origin: EntryOrigin | null;
  readonly operation: Uint8Array;
} {
  if (entry.length < HEADER_BYTES || entry[0] !== HEADER_MARK) {
    return { origin: null, operation: entry };
  }
  const view = new DataView(entry.buffer, entry.byteOffset, entry.byteLength);
  return {
    origin: { node: view.getUint16(1) as NodeId, requestId: view.getFloat64(3) },
    operation: entry.subarray(HEADER_BYTES),
  };
}
