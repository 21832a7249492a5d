import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import type { ReplicaStatus } from '../../replica/replica-status-port.js';
import { UI_HISTORY_SEC, UiRecorder } from '../../node/ui-recorder.js';

const status = (fields: Partial<ReplicaStatus>): ReplicaStatus => ({
  kind: 'ReplicaStatus',
  group: 1,
  node: nodeId(2),
  role: 'looking',
  serving: false,
  leader: null,
  acceptedEpoch: 1,
  currentEpoch: 1,
  lastZxid: 0,
  committedZxid: 0,
  appliedZxid: 0,
  pendingProposals: 0,
  dbBytes: 0,
  quotaBytes: 0,
  followers: [],
  rejected: {},
  divergences: 0,
  ...fields,
});

describe('UiRecorder', () => {
  it('closes one sample per second with the requests of each group', () => {
    let now = 10_000;
    const recorder = new UiRecorder(nodeId(2), () => now);
    for (let i = 1; i <= 100; i++) recorder.served(1, 200, i);
    recorder.served(0, 503, 5);
    expect(recorder.view(0).samples).toEqual([]); // the second is still open
    now = 11_000;
    const [sample] = recorder.view(0).samples;
    expect(sample!.t).toBe(10);
    expect(sample!.groups['1']).toMatchObject({ ops: 100, errors: 0 });
    expect(sample!.groups['1']!.p50).toBeCloseTo(50, 0);
    expect(sample!.groups['1']!.p99).toBeCloseTo(99, 0);
    expect(sample!.groups['0']).toMatchObject({ ops: 1, errors: 1 });
    now += UI_HISTORY_SEC * 1000;
    expect(recorder.view(0).samples).toEqual([]); // out of the window
  });

  it('turns role and leader changes into events, once each', () => {
    let now = 1_000;
    const recorder = new UiRecorder(nodeId(2), () => now);
    recorder.replicaStatus(status({ role: 'looking' }));
    recorder.replicaStatus(status({ role: 'looking' }));
    now = 2_000;
    recorder.replicaStatus(status({ role: 'leading', leader: nodeId(2) }));
    recorder.replicaStatus(
      status({ role: 'leading', leader: nodeId(2), serving: true, currentEpoch: 2 }),
    );
    recorder.replicaStatus(
      status({ role: 'leading', leader: nodeId(2), serving: true, currentEpoch: 2 }),
    );
    expect(recorder.view(0).serving).toBe(true);
    recorder.slowFsync(250);
    expect(recorder.view(0).events.map((e) => e.kind)).toEqual([
      'started',
      'election',
      'leader',
      'slow-fsync',
    ]);
    expect(recorder.view(1_000).events.map((e) => e.kind)).toEqual(['leader', 'slow-fsync']);
  });
});
