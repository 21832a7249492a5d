import { afterEach, describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { PeerFaults } from '../../components/network/peer-faults.js';
import { startFrontend, stopFrontends } from './frontend-fixture.js';

// /admin/faults (issue 13): only on a node started with --fault-injection; validated input.

afterEach(() => stopFrontends());

describe('/admin/faults', () => {
  it('does not exist without --fault-injection', async () => {
    const { app } = await startFrontend();
    const response = await app.inject({ method: 'PUT', url: '/admin/faults', payload: '{}' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: 'NoSuchRoute' });
  });

  it('sets, shows and heals the drop rules, which the filter applies', async () => {
    const faults = new PeerFaults();
    const { app } = await startFrontend({ faults });
    const put = await app.inject({
      method: 'PUT',
      url: '/admin/faults',
      payload: JSON.stringify({ dropTo: [2, 3], dropFrom: [3] }),
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ dropTo: [2, 3], dropFrom: [3], dropped: 0 });
    expect(faults.dropsTo(nodeId(2))).toBe(true);
    expect(faults.dropsFrom(nodeId(2))).toBe(false);
    expect(faults.dropsFrom(nodeId(3))).toBe(true);
    const healed = await app.inject({ method: 'DELETE', url: '/admin/faults' });
    expect(healed.json()).toEqual({ dropTo: [], dropFrom: [], dropped: 2 });
    expect(faults.dropsTo(nodeId(2))).toBe(false);
  });

  it.each([
    ['not json', /must be JSON/],
    ['{"dropTo": ["x"]}', /\/dropTo\/0: Expected integer/],
    ['{"dropto": [1]}', /dropto/],
  ])('refuses %s with a message naming the field', async (payload, message) => {
    const { app } = await startFrontend({ faults: new PeerFaults() });
    const response = await app.inject({ method: 'PUT', url: '/admin/faults', payload });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(message);
  });
});
