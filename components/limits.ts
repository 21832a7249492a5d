import assert from 'node:assert/strict';

/**
 * Every size, count and request-timeout limit of a node, in one place, with the relations
 * between them checked when this module loads (TigerBeetle's constants.zig). A limit that
 * must fit inside another is written here next to it: a proposal split too coarse for the
 * peer frame limit once cost a group its leader (60 concurrent PUTs of 700 KB made one
 * 40 MB proposal, and the followers dropped the connection).
 *
 * Units are last in every name: _BYTES, _COUNT, _MS.
 */

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

// ---- client requests (the HTTP edge) ------------------------------------------------------

/** A key: 1 to this many bytes of UTF-8. */
export const MAX_KEY_BYTES = 1 * KIB;
/** A value: the HTTP body limit (413 above it). */
export const MAX_VALUE_BYTES = 1 * MIB;
/** Compares and ops of one transaction together (etcd's --max-txn-ops default). */
export const MAX_TXN_OPS_COUNT = 128;
/**
 * Gets in one branch of a transaction: its answer carries their values (up to MAX_VALUE_BYTES
 * each) and must fit a peer frame when it crosses nodes (asserted below).
 */
export const MAX_TXN_GETS_COUNT = 8;
/**
 * What msgpack may spend on one compare or op of a transaction besides its key and value
 * (headers, code, version): a transaction's keys and values plus this per op stay within
 * MAX_VALUE_BYTES, so its logged form fits MAX_OPERATION_BYTES like a put's.
 */
export const TXN_OP_OVERHEAD_BYTES = 32;
/** Keys one listing page (`GET /kv?prefix=`) holds by default, and at most (`limit`). */
export const DEFAULT_LIST_LIMIT_COUNT = 1_000;
export const MAX_LIST_LIMIT_COUNT = 10_000;
/**
 * Bytes of keys and values one listing page holds at most, and so one group's part of it that
 * crosses the peer network (one entry may take a part past it: asserted below to fit a frame).
 */
export const MAX_LIST_PAGE_BYTES = 4 * MIB;
/** What msgpack and JSON may spend on one listed item besides its key and value. */
export const LIST_ITEM_OVERHEAD_BYTES = 32;
/**
 * Keys one logged prefix delete (`DELETE /kv?prefix=`) removes at most: each batch is one log
 * entry, so its apply and its answer (the deleted keys) stay small; the HTTP handler repeats it.
 */
export const MAX_DELETE_BATCH_COUNT = 1_000;
/** Client requests in flight at one node before new ones get 503 + Retry-After. */
export const MAX_REQUESTS_IN_FLIGHT_COUNT = 20_000;
/** The reason text an unavailable or unknown outcome carries across the network. */
export const MAX_REASON_LENGTH = 200;
/**
 * Bytes of request bodies one node holds at once, arriving or waiting for their answer, before
 * new ones get 503 + Retry-After: the count above bounds requests, this bounds their memory.
 */
export const MAX_BODY_BYTES_IN_FLIGHT = 128 * MIB;
/**
 * Requests one client connection may have unanswered at once (HTTP/1.1 pipelining). Node
 * parses every request a chunk holds, and each answer waits in memory for those before it: one
 * socket that never read, sending a thousand GETs of a 1 MiB value in 33 KB, held a gigabyte.
 * Past it the connection is closed; clients that read their answers (undici, curl) pipeline
 * one or a few.
 */
export const MAX_PIPELINED_REQUESTS_COUNT = 32;
/**
 * Open client connections at one node; a connection past it is answered 503 and closed (past
 * twice it, closed at once: each refused one still holds a socket until it is answered).
 */
export const MAX_CLIENT_CONNECTIONS_COUNT = 4096;
/** A request's headers must arrive within this, the whole request within the next; else 408. */
export const CLIENT_HEADERS_TIMEOUT_MS = 10_000;
export const CLIENT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * A group's data (key and value bytes) past which writes that add bytes get 507: etcd's
 * default backend quota. The whole state is held in memory, so a node needs more than this.
 */
export const DEFAULT_QUOTA_BYTES = 2 * GIB;

/**
 * An operation in its logged form (kv/kv-operation.ts): a msgpack array of the op code, the
 * key, the condition and the value, and the header that names the replica that answers it.
 * msgpack spends at most 5 bytes on a string or byte header and 9 on a number.
 */
export const MAX_OPERATION_ENVELOPE_BYTES = 64;
export const MAX_OPERATION_BYTES = MAX_KEY_BYTES + MAX_VALUE_BYTES + MAX_OPERATION_ENVELOPE_BYTES;

// ---- the peer network ---------------------------------------------------------------------

/** A frame on a peer connection: larger ones close the connection (DESIGN §4). */
export const MAX_FRAME_BYTES = 16 * MIB;
/** A message's fields besides its payload: kind, src, dst, group, session, seq, zxids. */
export const MAX_MESSAGE_ENVELOPE_BYTES = 256;
/**
 * A frame on a connection whose Hello has not been accepted yet: the Hello is about 60 bytes,
 * so nobody unauthenticated can make a node buffer more than this (security.md §1).
 */
export const MAX_HELLO_FRAME_BYTES = 4 * KIB;
/**
 * A peer connection must complete TLS (when on) and its Hello within this time, or it is
 * closed: a scanner or a stalled dialler holds no socket for long. A healthy handshake on a
 * LAN takes a few milliseconds.
 */
export const PEER_HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * Inbound peer connections still in their handshake; more are closed at once. Peers that
 * dial together after a restart finish in milliseconds, so 64 is ample for any cluster.
 */
export const MAX_PEER_HANDSHAKES_COUNT = 64;
/**
 * Inbound peer connections in all: each node dials each other at most twice (its own id and
 * the bootstrap alias), so this allows clusters of about 500 nodes.
 */
export const MAX_PEER_CONNECTIONS_COUNT = 1024;
/**
 * Handshakes in progress from one source (an IPv4 address, an IPv6 /64) before its oldest is
 * closed: one host cannot hold the global handshake slots. Each node dials another at most
 * twice (its id and the bootstrap alias), and handshakes end in milliseconds, so 16 leaves
 * room for a local cluster of eight nodes on one address all dialling at once (a test's).
 */
export const MAX_PEER_HANDSHAKES_PER_SOURCE_COUNT = 16;
/**
 * An accepted peer connection holding an incomplete frame is closed when no byte arrives for
 * this long. A live link, however slow, delivers something within seconds (TCP retransmits,
 * keeps the window moving); a 16 MiB frame at 1 MB/s still sends bytes every few ms. Only a
 * sender that stopped mid-frame, holding our buffer, waits this out.
 */
export const PEER_FRAME_STALL_TIMEOUT_MS = 30_000;
/**
 * Bytes of incomplete frames buffered across all inbound peer connections. Past it, the
 * connection holding the largest one is closed: 1024 connections of 16 MiB partial frames
 * would be 16 GiB. 16 frames of the largest size, and far more than the few MiB of proposal
 * and snapshot pieces a cluster's peers have in flight at once.
 */
export const MAX_PEER_BUFFERED_BYTES = 256 * MIB;
/**
 * A reason logged for peer input (a validation error path names the sender's own property
 * names) is cut to this many characters: one log line per bad frame, not a megabyte.
 */
export const MAX_PEER_LOG_REASON_LENGTH = 200;
/**
 * Peer input rejections of one reason are logged at their 1st, 2nd, 4th, 8th… time; once
 * this long has passed since the last such line, the count starts over, so a later (or
 * still running) attack is logged again.
 */
export const PEER_REJECTION_WARN_RESET_MS = 60_000;

// ---- ZAB ----------------------------------------------------------------------------------

/**
 * A burst of writes is proposed in pieces of at most this many entries and (but for a single
 * entry larger than it) this many payload bytes, so heartbeats and ACKs between pieces are
 * never stuck behind one huge message.
 */
export const PROPOSAL_PIECE_BYTES = 1 * MIB;
export const PROPOSAL_PIECE_ENTRIES_COUNT = 512;
/**
 * A follower applies what it learns is committed in slices of at most this many entries and
 * (but for a single larger entry) payload bytes, one slice per turn: a follower that syncs
 * thousands of entries behind (after a SNAP under load, or a restart) applied them all in one
 * handler (0.7 s at 5M keys, 1 s at 10 KB values), and a steady commit covers fewer than this.
 */
export const APPLY_SLICE_ENTRIES_COUNT = 256;
export const APPLY_SLICE_BYTES = 512 * KIB;
/** A log entry's framing inside a proposal: [zxid, payload] as msgpack. */
export const ENTRY_ENVELOPE_BYTES = 16;
/**
 * A SNAP sync sends the state in pieces of this size (one entry may take a piece past it). Each
 * piece is read, encoded, decoded and staged in one handler on each side: at 5M keys of 100 B a
 * 1 MiB piece took 35 ms to read and 22 ms to stage, a 256 KiB one 5 and 2.4 ms.
 */
export const SNAP_PIECE_BYTES = 256 * KIB;
/** Snapshot pieces a leader sends ahead of the follower's acknowledgements (flow control). */
export const SNAP_WINDOW_PIECES = 8;
/**
 * Snapshot pieces a follower acknowledges before its store has written them: the store always
 * has the next pieces queued while acknowledgements travel, and what waits in memory for the
 * disk stays under this plus the leader's window.
 */
export const SNAP_UNWRITTEN_PIECES = 4;
/**
 * Log bytes applied between two trims of the log in memory, whatever `snapshotEvery` says (so
 * it is bounded in bytes, not only in entries), and the least between two checkpoints of lmdb's
 * state (each copies the state's file: lmdb-state-environment.ts scales them with its size).
 */
export const CHECKPOINT_LOG_BYTES = 64 * MIB;
/**
 * The applied state's lmdb transactions start at most this often (etcd's backend batch
 * interval, 100 ms): each is a B-tree copy-on-write and an fsync beside the WAL's, and one per
 * burst cost a node as much CPU as the rest of a write (bench:ab, 2026-11-30). A second's batch
 * shares branch pages: at 5M keys ~8 % less CPU and ~11 % more writes/s (medians of 3
 * interleaved 20 s runs on kept data), none at 10k, but p99.9 rose from 129-166 to 174-302 ms
 * at 5M and from 91-129 to 147-215 at 10k: each big commit is a burst on a 2-core machine.
 */
export const STATE_COMMIT_INTERVAL_MS = 100;
/** ... unless this many changes wait (etcd's backend batch limit) ... */
export const STATE_COMMIT_BATCH_CHANGES = 10_000;
/**
 * ... or this many bytes of keys and values: what waits in memory stays bounded in bytes, and a
 * transaction's room check (about twice its bytes, state/lmdb-state-store.ts) stays well inside
 * the disk reserve, so a filling disk refuses writes (507) before lmdb lacks room for one.
 */
export const STATE_COMMIT_BATCH_BYTES = 4 * MIB;
/** Log bytes kept behind a checkpoint for DIFF, at most (as well as `retainEntries`). */
export const RETAINED_LOG_BYTES = 64 * MIB;
/**
 * Log bytes a leader keeps for one follower's sync past its snapshot (the writes made while the
 * state streams): past this the sync ends and starts over from a newer snapshot, so a SNAP
 * slower than the writes cannot grow the leader's memory without bound. A 1 GB SNAP under
 * 64 writers of 10 KB held 200-450 MB (11-64 s at 700-2,300 writes/s, 2026-11-30 and -12-01);
 * etcd's in-memory raft log is of this order (snapshot-count entries).
 */
export const SYNC_BACKLOG_BYTES = 1024 * MIB;
/** Epochs a follower reports in ACKEPOCH (the last zxid of each, to find the common prefix). */
export const MAX_EPOCH_ENDS_COUNT = 4096;
/** Proposals a leader may have outstanding before it answers 503 (back-pressure). */
export const MAX_OUTSTANDING_PROPOSALS_COUNT = 10_000;

// ---- forwarded requests -------------------------------------------------------------------

/**
 * How long a node waits for the answer to a request it sent to another node. The overlay
 * sends a client's request to a member of the key's group (outer); that member's replica may
 * forward it to its leader (inner). The inner wait ends first, so the outer node gets a
 * definite answer (503 "did not happen" or 504 "unknown") rather than timing out itself.
 */
export const ROUTED_REQUEST_TIMEOUT_MS = 7_000;
export const FORWARDED_REQUEST_TIMEOUT_MS = 5_000;

// ---- relations ----------------------------------------------------------------------------

/** The worst case of a proposal piece: full of entries, or one entry larger than a piece. */
export const MAX_PROPOSAL_MESSAGE_BYTES =
  Math.max(PROPOSAL_PIECE_BYTES, MAX_OPERATION_BYTES) +
  PROPOSAL_PIECE_ENTRIES_COUNT * ENTRY_ENVELOPE_BYTES +
  MAX_MESSAGE_ENVELOPE_BYTES;

assert(MAX_VALUE_BYTES <= PROPOSAL_PIECE_BYTES, 'a value fits in a proposal piece');
assert(MAX_VALUE_BYTES <= MAX_BODY_BYTES_IN_FLIGHT, 'a value fits in the body budget');
assert(
  CLIENT_HEADERS_TIMEOUT_MS <= CLIENT_REQUEST_TIMEOUT_MS,
  'headers arrive within the request timeout',
);
assert(MAX_PROPOSAL_MESSAGE_BYTES <= MAX_FRAME_BYTES, 'a proposal piece fits in a frame');
assert(MAX_FRAME_BYTES <= MAX_PEER_BUFFERED_BYTES, 'one largest frame fits the inbound budget');
assert(
  MAX_PEER_HANDSHAKES_PER_SOURCE_COUNT <= MAX_PEER_HANDSHAKES_COUNT,
  'one source holds at most the handshake slots there are',
);
/** A snapshot piece at most: its size, and one entry that took it past that. */
export const MAX_SNAP_PIECE_BYTES = SNAP_PIECE_BYTES + MAX_OPERATION_BYTES;
assert(
  MAX_SNAP_PIECE_BYTES + MAX_MESSAGE_ENVELOPE_BYTES <= MAX_FRAME_BYTES,
  'a snapshot piece fits in a frame',
);
assert(
  MAX_OPERATION_BYTES + MAX_MESSAGE_ENVELOPE_BYTES + MAX_REASON_LENGTH * 4 <= MAX_FRAME_BYTES,
  'a forwarded request, or its answer with a value, fits in a frame',
);
assert(
  MAX_EPOCH_ENDS_COUNT * 9 + MAX_MESSAGE_ENVELOPE_BYTES <= MAX_FRAME_BYTES,
  'an ACKEPOCH fits in a frame',
);
assert(
  FORWARDED_REQUEST_TIMEOUT_MS < ROUTED_REQUEST_TIMEOUT_MS,
  'an inner request timeout ends before the outer one',
);
assert(
  MAX_TXN_GETS_COUNT * (MAX_VALUE_BYTES + MAX_KEY_BYTES + TXN_OP_OVERHEAD_BYTES) +
    MAX_TXN_OPS_COUNT * (MAX_KEY_BYTES + TXN_OP_OVERHEAD_BYTES) +
    MAX_MESSAGE_ENVELOPE_BYTES <=
    MAX_FRAME_BYTES,
  "a transaction's answer fits a frame",
);
assert(
  MAX_LIST_PAGE_BYTES +
    MAX_KEY_BYTES +
    MAX_VALUE_BYTES +
    (MAX_LIST_LIMIT_COUNT + 1) * LIST_ITEM_OVERHEAD_BYTES +
    MAX_MESSAGE_ENVELOPE_BYTES <=
    MAX_FRAME_BYTES,
  "a group's part of a listing page fits a frame",
);
assert(
  MAX_DELETE_BATCH_COUNT * (MAX_KEY_BYTES + TXN_OP_OVERHEAD_BYTES) + MAX_MESSAGE_ENVELOPE_BYTES <=
    MAX_FRAME_BYTES,
  "a prefix delete batch's answer (its deleted keys) fits a frame",
);
