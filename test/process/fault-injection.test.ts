import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpUrl, type LocalCluster } from '../../client/local-cluster.js';
import type { UiState } from '../../frontend/ui-state.js';
import { call, startedCluster, testDirectory, until } from './node-processes.js';

// --fault-injection on real processes (issue 13): /admin/faults on a leader cuts it off from
// its group, the others elect a new leader and serve writes, and after healing the old
// leader rejoins as a follower.

const dir = testDirectory('zabkv-faults-');
let cluster: LocalCluster;
const url = (node: number) => httpUrl(cluster.options, node);

async function groupState(node: number) {
  const state = JSON.parse((await call(`${url(node)}/ui/state`)).text) as UiState;
  return state.groups[0]!;
}

beforeAll(async () => {
  cluster = await startedCluster(dir, { env: { ZABKV_FAULT_INJECTION: '1' } });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('fault injection', () => {
  it('isolates a leader: the majority elects another, and the old one rejoins after healing', async () => {
    const leader = await until('a leader', async () => (await groupState(1)).leader ?? undefined);
    const others = [1, 2, 3].filter((n) => n !== leader);
    const cut = await call(`${url(leader)}/admin/faults`, {
      method: 'PUT',
      body: JSON.stringify({ dropTo: others, dropFrom: others }),
    });
    expect(cut.status).toBe(200);

    const next = await until('a new leader among the others', async () => {
      const group = await groupState(others[0]!);
      return group.leader !== null && group.leader !== leader ? group.leader : undefined;
    });
    expect(others).toContain(next);
    await until('a write through the majority', async () =>
      (await call(`${url(others[1]!)}/kv/after-cut`, { method: 'PUT', body: 'x' })).status === 200
        ? true
        : undefined,
    );
    const shown = JSON.parse((await call(`${url(leader)}/admin/faults`)).text) as {
      dropped: number;
    };
    expect(shown.dropped).toBeGreaterThan(0);

    expect((await call(`${url(leader)}/admin/faults`, { method: 'DELETE' })).status).toBe(200);
    await until('the old leader following again', async () => {
      const member = (await groupState(others[0]!)).members.find((m) => m.id === leader);
      return member?.role === 'following' ? true : undefined;
    });
    const read = await call(`${url(leader)}/kv/after-cut`);
    expect(read).toMatchObject({ status: 200, text: 'x' });
  });
});
