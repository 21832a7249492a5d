import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { makeZxid } from '../../kv/zxid.js';
import { StatusBoard } from '../../node/cluster-status.js';
import { leaderStatus, routing, twoGroups } from './status-fixtures.js';

describe('StatusBoard (/readyz and /cluster from the last reports)', () => {
  it('is unformed and not ready before a lookup table arrives', () => {
    const board = new StatusBoard(nodeId(1));
    board.replicaStatus(leaderStatus());
    expect(board.cluster()).toEqual({ formed: false, node: 1 });
    expect(board.ready()).toBe(false);
  });

  it('is ready once its replica serves and a leader is known for every group', () => {
    const board = new StatusBoard(nodeId(1));
    board.tableReady(twoGroups());
    expect(board.ready()).toBe(false);
    board.replicaStatus(leaderStatus());
    expect(board.ready()).toBe(false); // group 1's leader is unknown
    board.routingStatus(routing({ 0: null, 1: 5 }));
    // Its own group's leader comes from the replica, not from the overlay's view.
    expect(board.ready()).toBe(true);
    board.replicaStatus(leaderStatus({ role: 'looking', serving: false, leader: null }));
    expect(board.ready()).toBe(false);
    board.replicaStatus(leaderStatus({ role: 'following', serving: false, leader: nodeId(2) }));
    expect(board.ready()).toBe(false); // knows a leader but has not synced with it
  });

  it('a node in no group (a router only) is never ready', () => {
    const board = new StatusBoard(nodeId(9));
    board.tableReady(twoGroups());
    board.routingStatus(routing({ 0: 1, 1: 5 }));
    expect(board.ready()).toBe(false);
  });

  it('describes every group, and its own with what its replica reports', () => {
    const board = new StatusBoard(nodeId(1));
    board.tableReady(twoGroups());
    board.replicaStatus(leaderStatus());
    board.routingStatus(routing({ 0: 2, 1: 5 }));
    expect(board.cluster()).toEqual({
      formed: true,
      node: 1,
      version: 1,
      groups: [
        {
          id: 0,
          ranges: [{ group: 0, start: 0, end: 0x8000_0000 }],
          members: [1, 2, 3].map((id) => ({ id, http: { host: '127.0.0.1', port: 8_000 + id } })),
          leader: 1,
          role: 'leading',
          acceptedEpoch: 3,
          epoch: 3,
          lastZxid: makeZxid(3, 10),
          committedZxid: makeZxid(3, 9),
          appliedZxid: makeZxid(3, 8),
          dbBytes: 1_234,
          quotaBytes: 1 << 20,
          followers: [
            { node: 2, synced: true, ackedZxid: makeZxid(3, 10) },
            { node: 3, synced: true, ackedZxid: makeZxid(3, 7) },
          ],
        },
        {
          id: 1,
          ranges: [{ group: 1, start: 0x8000_0000, end: 0x1_0000_0000 }],
          members: [4, 5, 6].map((id) => ({ id, http: { host: '127.0.0.1', port: 8_000 + id } })),
          leader: 5,
        },
      ],
    });
  });

  it('lists followers only as leader, and no replica fields before the first report', () => {
    const board = new StatusBoard(nodeId(2));
    board.tableReady(twoGroups());
    const before = board.cluster();
    expect(before.formed && before.groups[0]).not.toHaveProperty('role');
    board.replicaStatus(
      leaderStatus({ node: nodeId(2), role: 'following', leader: nodeId(1), followers: [] }),
    );
    const cluster = board.cluster();
    expect(cluster.formed && cluster.groups[0]).toMatchObject({ role: 'following', leader: 1 });
    expect(cluster.formed && cluster.groups[0]!.followers).toBeUndefined();
  });

  it('keeps the newest table', () => {
    const board = new StatusBoard(nodeId(1));
    board.tableReady(twoGroups(2));
    board.tableReady(twoGroups(1));
    expect(board.cluster()).toMatchObject({ formed: true, version: 2 });
  });
});
