import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import type { ClusterStatus } from '../../frontend/cluster-status.js';
import { UiAggregator } from '../../frontend/ui-aggregator.js';
import type { NodeUiView } from '../../frontend/ui-state.js';

// Issue 13: the timeline's node-down and node-up are recorded by the node's own sampling,
// whether or not a page asks for /ui/state.

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** Node 2's `/ui/node` on a loopback port (`status`: what it answers; 200 with a view). */
async function member(
  port = 0,
  status = 200,
): Promise<{ server: Server; port: number; asked: () => number }> {
  let asked = 0;
  const server = createServer((_request, response) => {
    asked++;
    if (status !== 200) {
      response.writeHead(status).end();
      return;
    }
    const view: NodeUiView = {
      node: nodeId(2),
      at: Date.now(),
      status: { formed: false, node: nodeId(2) },
      serving: true,
      samples: [],
      events: [{ at: 1_000, node: nodeId(2), kind: 'leader', text: 'group 0: node 2 leads' }],
    };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(view));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address !== null ? address.port : 0,
    asked: () => asked,
  };
}

const closed = (server: Server) =>
  new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });

function aggregatorOf(memberPort: number): UiAggregator {
  const cluster: ClusterStatus = {
    formed: true,
    node: nodeId(1),
    version: 1,
    groups: [
      {
        id: 0,
        ranges: [{ group: 0, start: 0, end: 2 ** 32 }],
        members: [
          { id: nodeId(1) },
          { id: nodeId(2), http: { host: '127.0.0.1', port: memberPort } },
        ],
        leader: nodeId(2),
      },
    ],
  };
  const aggregator = new UiAggregator({
    self: nodeId(1),
    scheme: 'http',
    sampleEveryMs: 20,
    source: {
      nodeView: () => ({
        node: nodeId(1),
        at: Date.now(),
        status: cluster,
        serving: true,
        samples: [],
        events: [],
      }),
    },
  });
  closers.push(() => aggregator.close());
  return aggregator;
}

const kinds = (aggregator: UiAggregator) => aggregator.timeline().map((e) => `${e.kind} ${e.node}`);

describe('UiAggregator sampling', () => {
  it('records a member going down and coming back with no page polling', async () => {
    const first = await member();
    const aggregator = aggregatorOf(first.port);
    aggregator.start();
    // Its events are taken in too.
    await vi.waitFor(() => expect(kinds(aggregator)).toContain('leader 2'), { timeout: 5_000 });
    await closed(first.server);
    await vi.waitFor(() => expect(kinds(aggregator)).toContain('node-down 2'), { timeout: 5_000 });
    const again = await member(first.port);
    closers.push(() => closed(again.server));
    await vi.waitFor(() => expect(kinds(aggregator)).toContain('node-up 2'), { timeout: 5_000 });
    expect(kinds(aggregator).filter((k) => k.startsWith('node-'))).toEqual([
      'node-down 2',
      'node-up 2',
    ]);
  });

  it('counts a member that refuses its token-less sampling as up, not down', async () => {
    const refusing = await member(0, 401);
    const aggregator = aggregatorOf(refusing.port);
    aggregator.start();
    await vi.waitFor(() => expect(refusing.asked()).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
    expect(kinds(aggregator).filter((k) => k.startsWith('node-'))).toEqual([]);
    // Up, so its going away is an event (down to down would be none).
    await closed(refusing.server);
    await vi.waitFor(() => expect(kinds(aggregator)).toContain('node-down 2'), { timeout: 5_000 });
  });
});
