import { afterEach, describe, expect, it } from 'vitest';
import { AccessTokens } from '../../frontend/access-tokens.js';
import type { UiState } from '../../frontend/ui-state.js';
import { TWO_GROUPS, startFrontend, stopFrontends } from './frontend-fixture.js';
import { UI_TOKEN, twoGroupsUi } from './ui-fixture.js';

afterEach(stopFrontends);

describe('the dashboard with bearer tokens on', () => {
  it('serves the page and its assets without a token, and its data only with one', async () => {
    const { app } = await startFrontend({
      cluster: TWO_GROUPS,
      tokens: AccessTokens.parse(`${UI_TOKEN} read\n`),
      ui: twoGroupsUi,
    });
    for (const url of ['/ui', '/ui/assets/dashboard.js', '/ui/assets/uPlot.min.js']) {
      expect((await app.inject({ url })).statusCode, url).toBe(200);
    }
    // An unknown asset is a 404, not a file read: the open route serves only its list.
    expect((await app.inject({ url: '/ui/assets/..%2F..%2Fpackage.json' })).statusCode).toBe(404);
    for (const url of ['/ui/state', '/ui/node']) {
      const refused = await app.inject({ url });
      expect(refused.statusCode, url).toBe(401);
      expect(refused.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    const wrong = await app.inject({
      url: '/ui/state',
      headers: { authorization: 'Bearer not-a-t0ken-ffffffffffff' },
    });
    expect(wrong.statusCode).toBe(401);
    const allowed = await app.inject({
      url: '/ui/state',
      headers: { authorization: `Bearer ${UI_TOKEN}` },
    });
    expect(allowed.statusCode).toBe(200);
    const state = allowed.json<UiState>();
    expect(state.formed).toBe(true);
    expect(state.groups.map((g) => g.id)).toEqual([0, 1]);
  });
});
